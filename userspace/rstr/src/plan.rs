// SPDX-License-Identifier: GPL-2.0

//! How to build the tree again: who creates whom, with which clone flags, who calls
//! `setsid` and `setpgid`, and which placeholder ("ghost") processes must exist for a while
//! so that the sessions and groups of dead leaders get their old ids back (as Linux-CR's
//! `mktree` did).
//!
//! A process is created by its parent, which can give it one of two sessions: the one the
//! parent itself was created in (children made before the parent's own `setsid`), or the
//! parent's own session once it is a leader. A process whose session leader is dead was
//! reparented to a subreaper: a ghost with the dead leader's pid, made by that subreaper,
//! calls `setsid` and creates it, then exits, and the process falls back to the subreaper.
//! A group whose leader is dead gets a ghost leader, made next to its first member, which
//! lives until every member has joined. Pure logic: no system call here.

use std::collections::HashMap;

use anyhow::{bail, ensure, Result};

use ckptlib::abi::image::{self as img, CkptTreeEntry};

pub const CLONE_FS: u64 = 0x200;
pub const CLONE_FILES: u64 = 0x400;

/// A session or group id as it will be restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Id {
    /// The one the restarter (`rstr`) is in: the root's own, when its leader is not in the
    /// image.
    Outer,
    /// Led by this pid: a process of the image, or a ghost.
    Led(i32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// The process at this index of the `TREE`.
    Task(usize),
    /// A placeholder leader of a session (`setsid`) or of a group (`setpgid(0, 0)`).
    Ghost,
}

/// One process to create.
#[derive(Debug, Clone)]
pub struct Node {
    pub pid: i32,
    pub what: What,
    /// Node index of its creator; `None` for the root.
    pub creator: Option<usize>,
    /// Children it creates before its `setsid` (they stay in its first session), then after.
    pub early: Vec<usize>,
    pub late: Vec<usize>,
    pub clone_flags: u64,
    pub exit_signal: i32,
    pub setsid: bool,
    /// `setpgid(0, 0)` right after creation (before creating children).
    pub own_group: bool,
    /// The group to join once every process exists.
    pub join: Option<Id>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub nodes: Vec<Node>,
    /// Node index of each `TREE` process (threads have none).
    #[cfg_attr(not(test), allow(dead_code))]
    pub node_of: HashMap<usize, usize>,
    /// Owner of each shared object, as a `TREE` index: the first task that has it.
    pub owns_files: Vec<bool>,
    pub owns_fs: Vec<bool>,
    /// Processes that share their parent's memory (`CLONE_VM` without `CLONE_THREAD`), by
    /// parent (`TREE` indices): started by the parent like its threads, and checked to
    /// hold what a `clone` of the restored parent gives them.
    pub vm_children: HashMap<usize, Vec<usize>>,
}

impl Plan {
    /// Processes and ghosts: what the creation barriers count.
    pub fn nr_processes(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// The processes that go on to restore themselves (no ghost, no zombie): what the
    /// barrier after the descriptor tables counts.
    pub fn nr_restored(&self, tree: &[CkptTreeEntry]) -> u32 {
        let live = |n: &&Node| match n.what {
            What::Task(i) => tree[i].flags & img::CKPT_TASK_ZOMBIE == 0,
            What::Ghost => false,
        };
        self.nodes.iter().filter(live).count() as u32
    }
}

fn is_process(e: &CkptTreeEntry) -> bool {
    e.pid == e.tgid
}

/// Plans the creation of `tree` (already checked by `ckptlib::restart::check_tree`).
pub fn plan(tree: &[CkptTreeEntry]) -> Result<Plan> {
    let index: HashMap<i32, usize> = tree
        .iter()
        .enumerate()
        .filter(|(_, e)| is_process(e))
        .map(|(i, e)| (e.pid, i))
        .collect();
    let root = &tree[0];
    let in_tree = |pid: i32| index.contains_key(&pid);
    let sid_of = |sid: i32| {
        if in_tree(sid) {
            Id::Led(sid)
        } else if sid == root.sid {
            Id::Outer
        } else {
            Id::Led(sid)
        }
    };
    let pgid_of = |pgid: i32| {
        if !in_tree(pgid) && pgid == root.pgid {
            Id::Outer
        } else {
            Id::Led(pgid)
        }
    };

    let mut nodes: Vec<Node> = Vec::new();
    let mut node_of: HashMap<usize, usize> = HashMap::new();
    // Session each node is created in, and the one it leads (if any).
    let mut born_in: Vec<Id> = Vec::new();
    let mut ghost_sessions: HashMap<i32, usize> = HashMap::new();
    let mut ghost_groups: HashMap<i32, usize> = HashMap::new();

    // Processes sharing their parent's memory are started like threads, after the tree.
    let mut vm_children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, e) in tree.iter().enumerate().skip(1) {
        if !is_process(e) || e.flags & img::CKPT_TASK_ZOMBIE != 0 {
            continue;
        }
        let p = index[&e.ppid];
        if e.mm != tree[p].mm {
            ensure!(
                !tree[..i].iter().any(|o| o.mm == e.mm),
                "process {} shares its memory with a process other than its parent: not supported",
                e.pid
            );
            continue;
        }
        let parent = &tree[p];
        ensure!(
            parent.pid == parent.tgid
                && !vm_children.values().flatten().any(|&c| c == p)
                && !tree.iter().any(|o| o.ppid == e.pid && is_process(o))
                && e.sid == parent.sid
                && e.pgid == parent.pgid,
            "process {} shares its parent's memory (CLONE_VM) and has children, another \
             session or group, or a parent that shares too: not supported",
            e.pid
        );
        vm_children.entry(p).or_default().push(i);
    }
    let vm_child = |i: usize| vm_children.values().flatten().any(|&c| c == i);

    // Zombies right after their parent: a zombie that led a session creates the members
    // of that session that came to its parent (below), so it must exist before them.
    let zombie = |e: &CkptTreeEntry| is_process(e) && e.flags & img::CKPT_TASK_ZOMBIE != 0;
    let mut zombies_of: HashMap<i32, Vec<usize>> = HashMap::new();
    for (z, e) in tree.iter().enumerate().skip(1).filter(|(_, e)| zombie(e)) {
        zombies_of.entry(e.ppid).or_default().push(z);
    }
    let mut order: Vec<usize> = Vec::with_capacity(tree.len());
    for (i, e) in tree.iter().enumerate().filter(|(_, e)| !zombie(e)) {
        order.push(i);
        if is_process(e) {
            order.extend(zombies_of.remove(&e.pid).unwrap_or_default());
        }
    }
    // (The module lists a zombie only after its parent: none is left here.)
    order.extend(zombies_of.into_values().flatten());

    for &i in &order {
        let e = &tree[i];
        if !is_process(e) || vm_child(i) {
            continue;
        }
        let sid = sid_of(e.sid);
        let leader = sid == Id::Led(e.pid);
        let mut node = Node {
            pid: e.pid,
            what: What::Task(i),
            creator: None,
            early: Vec::new(),
            late: Vec::new(),
            clone_flags: 0,
            exit_signal: e.exit_signal,
            setsid: leader,
            own_group: e.pgid == e.pid && !leader,
            join: None,
        };
        let me = nodes.len();
        if i == 0 {
            ensure!(
                sid == Id::Outer || leader,
                "the root {} is in session {} whose leader is not in the image",
                e.pid,
                e.sid
            );
            born_in.push(Id::Outer);
        } else {
            let parent = node_of[&index[&e.ppid]];
            let p_first = born_in[parent];
            let p_own = nodes[parent].setsid.then_some(Id::Led(nodes[parent].pid));
            // A leader makes its own session: it may be born in either of its parent's.
            let late = if leader {
                p_own.is_some()
            } else {
                Some(sid) == p_own
            };
            if late || leader || sid == p_first {
                if late {
                    nodes[parent].late.push(me);
                } else {
                    nodes[parent].early.push(me);
                }
                born_in.push(if late { p_own.unwrap() } else { p_first });
                node.creator = Some(parent);
            } else {
                // A session whose leader is dead: its members were reparented to a reaper.
                let Id::Led(s) = sid else {
                    bail!(
                        "process {} is in the restarter's session but its parent {} is not",
                        e.pid,
                        e.ppid
                    )
                };
                let reaper = &tree[index[&e.ppid]];
                ensure!(
                    reaper.flags & img::CKPT_TASK_SUBREAPER != 0 || reaper.pid == 1,
                    "process {} is in session {s}, whose leader is gone, but its parent {} is \
                     not a subreaper: the session cannot be recreated",
                    e.pid,
                    e.ppid
                );
                if let Some(&l) = index.get(&s) {
                    // The leader is in the image: no ghost can have its pid. A dead leader
                    // (a zombie of the same parent) creates the member itself, before it
                    // dies, and the member falls back to the subreaper, as it did.
                    let leader = &tree[l];
                    ensure!(
                        zombie(leader),
                        "process {} is in session {s}, whose leader {s} is alive but out of \
                         its line (its parent {} is in another session): the session cannot \
                         be recreated",
                        e.pid,
                        e.ppid
                    );
                    ensure!(
                        leader.ppid == e.ppid && node_of.contains_key(&l),
                        "process {} is in session {s}, whose dead leader {s} is a zombie of {}, \
                         not of its own parent {}: the session cannot be recreated",
                        e.pid,
                        leader.ppid,
                        e.ppid
                    );
                    let z = node_of[&l];
                    let me = nodes.len();
                    nodes[z].late.push(me);
                    born_in.push(Id::Led(s));
                    node.creator = Some(z);
                    node_of.insert(i, me);
                    nodes.push(node);
                    continue;
                }
                let g = match ghost_sessions.get(&s) {
                    Some(&g) => {
                        ensure!(
                            nodes[g].creator == Some(parent),
                            "session {s} (leader gone) has members under different reapers: \
                             not supported"
                        );
                        g
                    }
                    None => {
                        let g = nodes.len();
                        nodes.push(ghost(s, parent, true));
                        born_in.push(born_in[parent]);
                        nodes[parent].early.push(g);
                        ghost_sessions.insert(s, g);
                        g
                    }
                };
                let me = nodes.len();
                nodes[g].late.push(me);
                born_in.push(Id::Led(s));
                node.creator = Some(g);
                node_of.insert(i, me);
                nodes.push(node);
                continue;
            }
        }
        node_of.insert(i, me);
        nodes.push(node);
    }

    // Groups: every process joins its group once all exist; dead leaders get a ghost,
    // created beside the group's first member.
    let order: Vec<usize> = (0..nodes.len()).collect();
    for n in order {
        let What::Task(i) = nodes[n].what else {
            continue;
        };
        let e = &tree[i];
        let pg = pgid_of(e.pgid);
        let session = born_in_session(&nodes, &born_in, n);
        if pg == Id::Led(e.pid) {
            continue;
        }
        if let Id::Led(g) = pg {
            let led_by_process = in_tree(g);
            let led_by_session_ghost = ghost_sessions.contains_key(&g);
            if !led_by_process && !led_by_session_ghost && !ghost_groups.contains_key(&g) {
                ensure!(
                    session == sid_of(e.sid),
                    "process {}: group {g} has no leader and the process is not in its session yet",
                    e.pid
                );
                let creator = nodes[n].creator.ok_or_else(|| {
                    anyhow::anyhow!("the root's group {g} has no leader in the image")
                })?;
                let h = nodes.len();
                let early = nodes[creator].early.contains(&n);
                nodes.push(ghost(g, creator, false));
                born_in.push(born_in[n]);
                if early {
                    nodes[creator].early.push(h);
                } else {
                    nodes[creator].late.push(h);
                }
                ghost_groups.insert(g, h);
            }
        }
        nodes[n].join = Some(pg);
    }

    // Sharing by clone flags: a process shares a descriptor table or fs context only with
    // the process that creates it.
    let mut owns_files = vec![false; tree.len()];
    let mut owns_fs = vec![false; tree.len()];
    let mut first_files: HashMap<u32, usize> = HashMap::new();
    let mut first_fs: HashMap<u32, usize> = HashMap::new();
    for (i, e) in tree.iter().enumerate() {
        if e.flags & img::CKPT_TASK_ZOMBIE != 0 {
            continue;
        }
        for (id, first, owns, flag, what) in [
            (
                e.files,
                &mut first_files,
                &mut owns_files,
                CLONE_FILES,
                "descriptor table",
            ),
            (e.fs, &mut first_fs, &mut owns_fs, CLONE_FS, "root and cwd"),
        ] {
            match first.get(&id) {
                None => {
                    first.insert(id, i);
                    owns[i] = true;
                }
                Some(&_owner) if !is_process(e) || vm_child(i) => {}
                Some(&owner) => {
                    let n = node_of[&i];
                    let creator = nodes[n].creator.and_then(|c| match nodes[c].what {
                        What::Task(ci) => Some(ci),
                        What::Ghost => None,
                    });
                    let shares = creator.is_some_and(|ci| {
                        let c = &tree[ci];
                        (if flag == CLONE_FILES { c.files } else { c.fs }) == id
                    });
                    ensure!(
                        shares,
                        "process {} shares its {what} with {}, which does not create it: not supported",
                        e.pid,
                        tree[owner].pid
                    );
                    nodes[n].clone_flags |= flag;
                }
            }
        }
        if !is_process(e) && !vm_child(i) {
            let l = &tree[index[&e.tgid]];
            ensure!(
                e.files == l.files && e.fs == l.fs,
                "thread {} has its own descriptor table or fs context: not supported",
                e.pid
            );
        }
    }
    Ok(Plan {
        nodes,
        node_of,
        owns_files,
        owns_fs,
        vm_children,
    })
}

/// A placeholder leader: of session `pid` if `session`, else of group `pid`.
fn ghost(pid: i32, creator: usize, session: bool) -> Node {
    Node {
        pid,
        what: What::Ghost,
        creator: Some(creator),
        early: Vec::new(),
        late: Vec::new(),
        clone_flags: 0,
        exit_signal: libc::SIGCHLD,
        setsid: session,
        own_group: !session,
        join: None,
    }
}

/// The session a node ends up in once created and after its own `setsid`.
fn born_in_session(nodes: &[Node], born_in: &[Id], n: usize) -> Id {
    if nodes[n].setsid {
        Id::Led(nodes[n].pid)
    } else {
        born_in[n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn e(pid: i32, ppid: i32, pgid: i32, sid: i32) -> CkptTreeEntry {
        let mut e = CkptTreeEntry::new_zeroed();
        e.pid = pid;
        e.tgid = pid;
        e.ppid = ppid;
        e.pgid = pgid;
        e.sid = sid;
        e.exit_signal = 17;
        e.mm = pid as u32;
        e.files = pid as u32;
        e.fs = pid as u32;
        e
    }

    #[test]
    fn plain_tree_is_created_by_parents() {
        let t = [e(10, 1, 10, 5), e(11, 10, 10, 5), e(12, 11, 12, 5)];
        let p = plan(&t).unwrap();
        assert_eq!(p.nodes.len(), 3);
        assert_eq!(p.nodes[1].creator, Some(0));
        assert_eq!(p.nodes[2].creator, Some(1));
        assert!(p.nodes[0].own_group && !p.nodes[0].setsid);
        assert!(p.nodes[2].own_group);
        assert_eq!(p.nodes[1].join, Some(Id::Led(10)));
    }

    #[test]
    fn dead_session_leader_gets_a_ghost_under_the_subreaper() {
        let mut root = e(10, 1, 10, 5);
        root.flags = img::CKPT_TASK_SUBREAPER;
        // 20 was a session leader (sid 20) and died; 21 stayed in its session.
        let t = [root, e(21, 10, 20, 20)];
        let p = plan(&t).unwrap();
        let ghost = p.nodes.iter().position(|n| n.pid == 20).unwrap();
        assert_eq!(p.nodes[ghost].what, What::Ghost);
        assert!(p.nodes[ghost].setsid);
        assert_eq!(p.nodes[ghost].creator, Some(0));
        let child = p.node_of[&1];
        assert_eq!(p.nodes[child].creator, Some(ghost));
        assert_eq!(p.nodes[child].join, Some(Id::Led(20)));
    }

    #[test]
    fn zombie_session_leader_creates_its_members() {
        let mut root = e(10, 1, 10, 10);
        root.flags = img::CKPT_TASK_SUBREAPER;
        // 20 led session 20 and is a zombie of 10; its member 21 came to 10. In both
        // orders of the TREE record.
        let mut zombie = e(20, 10, 20, 20);
        zombie.flags = img::CKPT_TASK_ZOMBIE;
        for t in [
            [root, zombie, e(21, 10, 20, 20)],
            [root, e(21, 10, 20, 20), zombie],
        ] {
            let p = plan(&t).unwrap();
            let pids: Vec<i32> = p.nodes.iter().map(|n| n.pid).collect();
            assert_eq!(pids.len(), 3, "one node per pid, no ghost: {pids:?}");
            let z = p.nodes.iter().position(|n| n.pid == 20).unwrap();
            let m = p.nodes.iter().position(|n| n.pid == 21).unwrap();
            assert!(matches!(p.nodes[z].what, What::Task(_)) && p.nodes[z].setsid);
            assert_eq!(p.nodes[z].creator, Some(0));
            assert_eq!(p.nodes[z].late, vec![m]);
            assert_eq!(p.nodes[m].creator, Some(z));
            assert_eq!(p.nodes[m].join, Some(Id::Led(20)));
        }
    }

    #[test]
    fn member_of_a_live_leaders_session_elsewhere_is_refused() {
        let mut root = e(10, 1, 10, 10);
        root.flags = img::CKPT_TASK_SUBREAPER;
        // 20 leads session 20 and lives; 21, in its session, is a child of 10.
        let t = [root, e(20, 10, 20, 20), e(21, 10, 20, 20)];
        let err = plan(&t).unwrap_err().to_string();
        assert!(
            err.contains("21") && err.contains("leader 20 is alive"),
            "{err}"
        );
    }

    #[test]
    fn dead_session_leader_without_subreaper_is_refused() {
        let t = [e(10, 1, 10, 5), e(21, 10, 20, 20)];
        assert!(plan(&t).is_err());
    }

    #[test]
    fn dead_group_leader_gets_a_ghost_beside_its_first_member() {
        let t = [e(10, 1, 10, 5), e(11, 10, 30, 5), e(12, 10, 30, 5)];
        let p = plan(&t).unwrap();
        let g = p.nodes.iter().position(|n| n.pid == 30).unwrap();
        assert!(p.nodes[g].own_group);
        assert_eq!(p.nodes[g].creator, Some(0));
        assert_eq!(p.nodes[p.node_of[&2]].join, Some(Id::Led(30)));
    }

    #[test]
    fn a_child_made_before_its_parent_setsid_keeps_the_old_session() {
        // 11 is a session leader; its child 12 stayed in session 5.
        let t = [e(10, 1, 10, 5), e(11, 10, 11, 11), e(12, 11, 10, 5)];
        let p = plan(&t).unwrap();
        assert!(p.nodes[1].setsid);
        assert_eq!(p.nodes[1].early, vec![2]);
    }

    #[test]
    fn shared_table_only_with_the_creator() {
        let mut a = e(11, 10, 10, 5);
        a.files = 10;
        let t = [e(10, 1, 10, 5), a];
        let p = plan(&t).unwrap();
        assert_eq!(p.nodes[1].clone_flags, CLONE_FILES);
        assert!(p.owns_files[0] && !p.owns_files[1]);
        let mut b = e(12, 11, 10, 5);
        b.fs = 10; // shares with 10, but 11 creates it
        let t = [e(10, 1, 10, 5), e(11, 10, 10, 5), b];
        assert!(plan(&t).is_err());
    }
}
