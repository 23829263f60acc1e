// SPDX-License-Identifier: GPL-2.0

//! `ckpt`: checkpoint a running process through the kernel's `/dev/checkpoint`.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

// rstr's plan of the tree, pure logic: ckpt runs it before the checkpoint.
#[allow(dead_code)]
#[path = "../../rstr/src/plan.rs"]
mod plan;

mod output;
mod send;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use ckptlib::checkpoint::{self, StoppedTree};
use ckptlib::device::Device;
use ckptlib::image::{self, views, Decoded, Rec};
use ckptlib::logging::{Logging, Watch};
use ckptlib::progress::Progress;
use output::Output;

/// Checkpoint a process with the in-kernel checkpoint/restart module (ckpt.ko).
///
/// `ckpt PID -o IMAGE` stops the process, its threads and all its descendants (ptrace seize
/// and interrupt: no signal is sent), has the kernel write the state of the whole tree into
/// IMAGE as one instant, then lets it run on, or kills it with --kill. Restart it later with
/// `rstr IMAGE`. The module must be loaded (`insmod ckpt.ko`);
/// `ckpt version` shows that it is and which ABI it speaks.
///
/// Checkpointing needs ptrace rights over the process: the same user (and the process
/// dumpable) or CAP_SYS_PTRACE. State that cannot be saved yet (sockets, timers, other
/// namespaces...) makes the checkpoint fail with its reason rather than write an
/// incomplete image.
#[derive(Parser, Debug)]
#[command(version, about, long_about, args_conflicts_with_subcommands = true)]
#[command(after_long_help = include_str!("after-help.txt"))]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    checkpoint: CheckpointArgs,
}

#[derive(Args, Debug)]
struct CheckpointArgs {
    /// The process to checkpoint.
    pid: Option<i32>,
    /// Where to write the image; `-` (the default) is standard output, to pipe it. A file
    /// is written as IMAGE.partial-PID and renamed to IMAGE, mode 0600, once complete: a
    /// failed checkpoint leaves an old IMAGE as it was.
    #[arg(short, long, value_name = "IMAGE", default_value = "-")]
    output: PathBuf,
    /// Stream the image over TCP to `rstr --listen PORT` on HOST, with no file on either
    /// side: framed, each frame and the whole image under a CRC32, so that a damaged or
    /// cut transfer is refused, never restarted. ckpt exits 0 only once rstr acknowledged
    /// the image whole and checked; with --kill the tree is killed only then, and left
    /// running otherwise (the error says why). E.g. `rstr --listen 0.0.0.0:7777` on the
    /// new machine, then `ckpt --kill 4242 --to newhost:7777` (Documentation/migration.rst).
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "output")]
    to: Option<String>,
    /// Kill every checkpointed process once the image is complete (they run on otherwise);
    /// with --to, once the receiver acknowledged it.
    #[arg(long)]
    kill: bool,
    /// PID is the init of a pid namespace: save the whole namespace, pids as seen inside
    /// it, and the UTS namespace (host and domain names), empty IPC namespace and network
    /// namespace (only lo, with its default addresses, up or down) the container may have
    /// of its own. `rstr` brings it back in new ones.
    #[arg(long)]
    container: bool,
    /// The most data of deleted files (unlinked while open) the image may hold, in all
    /// (holes not counted): bytes, or with K, M, G. Default 64M; beyond, the checkpoint is
    /// refused with the file's name.
    #[arg(long, value_name = "SIZE", value_parser = ckptlib::deleted::parse_size)]
    deleted_max: Option<u64>,
    #[command(flatten)]
    watch: Watch,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decode an image, record by record or as a view (as CRIU's crit and crit x do).
    ///
    /// Checks the framing and every length as it goes; an image that is truncated,
    /// corrupt or that ends with an ERROR record makes it exit non-zero after printing
    /// what it could read (and, for a view, what it shows of that part). At most one
    /// view at a time; the field names of each view's --json are listed in
    /// Documentation/image.rst, "Views".
    ///
    /// Examples: `ckpt show IMAGE --ps` (which processes, as a tree); `ckpt show IMAGE --mems
    /// --json | jq '.processes[].pages_saved'`; a refused checkpoint written to standard
    /// output keeps its ERROR record: `ckpt PID > IMAGE || ckpt show IMAGE --errors`.
    #[command(group(clap::ArgGroup::new("view").multiple(false)))]
    Show {
        /// The image; `-` reads standard input.
        image: PathBuf,
        /// One JSON object per record, one per line; with a view, the view as one JSON
        /// object.
        #[arg(long)]
        json: bool,
        /// The process tree, as `ps f` draws it: pid, parent, process group, session,
        /// threads, state (running, stopped by a signal, zombie), uid and command.
        #[arg(long, group = "view")]
        ps: bool,
        /// Per process, its memory areas: start-end, size, protection, kind (anonymous,
        /// file, heap, stack, vdso...), file, and how many pages of it the image holds.
        #[arg(long, group = "view")]
        mems: bool,
        /// Per process, its descriptors: number, kind, access, offset, the id of its
        /// open file description, and what it is (a file's path; a pipe's bytes queued and
        /// its other ends; a socket's state, peer and queue; an eventfd's count...).
        #[arg(long, group = "view")]
        fds: bool,
        /// How many records of each kind and their bytes, the total, the image version,
        /// how the image ends (TAIL, ERROR) and the pages of memory saved.
        #[arg(long, group = "view")]
        summary: bool,
        /// Why the checkpoint failed: the image's ERROR record (errno, reason, the task
        /// whose records it cut short), or where a truncated or corrupt image stops
        /// being readable. Exits non-zero if there is one, 0 for a complete image.
        #[arg(long, group = "view")]
        errors: bool,
    },
    /// List every reason a process tree cannot be checkpointed yet, or check the machine.
    ///
    /// With PID: a dry run. The tree is stopped as for a checkpoint, the module walks all of
    /// its state without writing an image or reading a page, and every reason it would
    /// refuse is listed at once (each naming the task, the descriptor or memory area and the
    /// kind of object), with what only ckpt sees (SysV IPC in use, a tree rstr could not
    /// build). The tree then runs on. Exits 0 only when a checkpoint would succeed.
    ///
    /// Without PID: whether this machine has what checkpoint/restart needs (the module and
    /// its ABI, ptrace, the capabilities rstr needs, pid namespaces), each missing piece
    /// named, as `criu check` does. Exits 0 unless something fails.
    Check {
        /// The root of the tree to check.
        pid: Option<i32>,
        /// One JSON object: `{"pid", "tasks", "ok", "reasons": [{"task", "fd", "area",
        /// "reason"}]}`, or for the machine `{"ok", "items": [{"what", "status", "detail"}]}`.
        #[arg(long)]
        json: bool,
        /// As for a checkpoint: PID is the init of a pid namespace saved whole.
        #[arg(long)]
        container: bool,
        /// As for a checkpoint: the limit of deleted files' data.
        #[arg(long, value_name = "SIZE", value_parser = ckptlib::deleted::parse_size)]
        deleted_max: Option<u64>,
    },
    /// Ask the loaded module for its ABI and image format versions.
    ///
    /// Exits non-zero if /dev/checkpoint is missing or speaks another ABI
    /// version than these tools were built for.
    Version {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli: Cli = ckptlib::cli::parse();
    ckptlib::cli::run("ckpt", || run(cli))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Version { json }) => version(json),
        Some(Command::Check {
            pid: None, json, ..
        }) => check_system(json),
        Some(Command::Check {
            pid: Some(pid),
            json,
            container,
            deleted_max,
        }) => check_tree(pid, json, container, deleted_max),
        Some(Command::Show {
            image,
            json,
            ps,
            mems,
            fds,
            summary,
            errors,
        }) => {
            let view = [
                (ps, View::Ps),
                (mems, View::Mems),
                (fds, View::Fds),
                (summary, View::Summary),
                (errors, View::Errors),
            ]
            .into_iter()
            .find_map(|(on, v)| on.then_some(v));
            match view {
                None => show(&image, json),
                Some(v) => show_view(&image, v, json),
            }
        }
        None => {
            let Some(pid) = cli.checkpoint.pid else {
                bail!("which process? usage: ckpt [--kill] PID [-o IMAGE] (see ckpt --help)")
            };
            take(pid, &cli.checkpoint)
        }
    }
}

fn version(json: bool) -> Result<ExitCode> {
    let dev = Device::open()?;
    let v = dev.version();
    if json {
        println!("{}", serde_json::to_string(v)?);
    } else {
        println!("module ABI version:   {}", v.abi_version);
        println!("image format version: {}", v.image_version);
        println!("features:             {:#x}", v.features);
        println!("kernel release:       {}", v.kernel_release);
    }
    Ok(ExitCode::SUCCESS)
}

/// `ckpt check`: what this machine has and lacks.
fn check_system(json: bool) -> Result<ExitCode> {
    use ckptlib::check::Status;
    let items = ckptlib::check::system();
    let ok = items.iter().all(|i| i.status != Status::Fail);
    if json {
        let v = serde_json::json!({ "ok": ok, "items": items });
        println!("{v}");
    } else {
        for i in &items {
            let s = match i.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            println!("{s}  {:<15} {}", i.what, i.detail);
        }
        println!(
            "{}",
            if ok {
                "checkpoint/restart can work here"
            } else {
                "checkpoint/restart cannot work here until each FAIL is fixed"
            }
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `ckpt check PID`: every reason the tree cannot be checkpointed, from a dry run.
fn check_tree(pid: i32, json: bool, container: bool, deleted_max: Option<u64>) -> Result<ExitCode> {
    let dev = Device::open()?;
    let target = StoppedTree::seize(pid)?;
    let mut lines = Vec::new();
    if let Some(r) = ckptlib::sysvipc::refusal(target.procs())? {
        lines.push(r);
    }
    if container {
        lines.extend(ckptlib::netns::refusal(pid)?);
    }
    // A tree the module refuses itself (another namespace, a task not stopped...) fails
    // here: the dry run would say the same, and nothing more.
    lines.extend(plan_refusal(&dev, &target, container)?);
    let opts = checkpoint::Options {
        container,
        deleted_max,
        ..Default::default()
    };
    for r in checkpoint::check(&dev, &target, &opts)? {
        if !lines.contains(&r) {
            lines.push(r);
        }
    }
    let tasks = target.tids().len();
    drop(target);
    let reasons: Vec<_> = lines
        .iter()
        .map(|l| ckptlib::check::Reason::parse(l))
        .collect();
    let ok = reasons.is_empty();
    if json {
        let v = serde_json::json!({ "pid": pid, "tasks": tasks, "ok": ok, "reasons": reasons });
        println!("{v}");
    } else if ok {
        println!("pid {pid}: a checkpoint would succeed ({tasks} tasks)");
    } else {
        println!(
            "pid {pid}: cannot be checkpointed yet ({tasks} tasks), {} reason{}:",
            reasons.len(),
            if reasons.len() == 1 { "" } else { "s" }
        );
        for r in &reasons {
            println!("  {}", r.reason);
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn take(pid: i32, args: &CheckpointArgs) -> Result<ExitCode> {
    let log = Logging::open("ckpt", &args.watch)?;
    let dest = match &args.to {
        Some(to) => format!("{to} (streamed)"),
        None => args.output.display().to_string(),
    };
    log.line(&format!("checkpoint of {pid} to {dest}"));
    let r = take_logged(pid, args, &log);
    match &r {
        Ok(_) => log.line(&format!("checkpoint of {pid} done")),
        Err(e) => log.line(&format!("error: {e:#}")),
    }
    r
}

fn take_logged(pid: i32, args: &CheckpointArgs, log: &Logging) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    ckptlib::phase::mark("start");
    let dev = Device::open()?;
    let to_stdout = args.output.as_os_str() == "-" && args.to.is_none();
    if to_stdout && io::stdout().is_terminal() {
        bail!("refusing to write a binary image to a terminal: use -o IMAGE or a pipe");
    }
    // Before the tree is stopped: a receiver that is not there leaves it untouched.
    let sender = args.to.as_deref().map(send::Sender::connect).transpose()?;
    let target = match StoppedTree::seize(pid) {
        Ok(t) => t,
        Err(e) => return Err(send::failed(sender, e)),
    };
    let frozen = std::time::Instant::now();
    ckptlib::phase::mark("seized");
    log.line(&format!(
        "stopped {} tasks of {} processes",
        target.tids().len(),
        target.procs().len()
    ));
    // SysV IPC the tree uses by id is invisible to the module: read it here. Then the tree
    // as rstr would build it again: a tree it cannot build is refused now, not at restart.
    let mut refusal = match ckptlib::sysvipc::refusal(target.procs()) {
        Ok(r) => r,
        Err(e) => return Err(send::failed(sender, e)),
    };
    // So are the routes of a container's own network namespace.
    if refusal.is_none() && args.container {
        refusal = match ckptlib::netns::refusal(pid) {
            Ok(r) => r,
            Err(e) => return Err(send::failed(sender, e)),
        };
    }
    if refusal.is_none() {
        // A tree the module refuses is refused again, with its ERROR record, below.
        refusal = plan_refusal(&dev, &target, args.container).unwrap_or(None);
    }
    // A file appears when the image is complete (a failed or killed ckpt leaves the old
    // one as it was; killed, it also leaves IMAGE.partial-PID).
    let out = match sender {
        Some(s) => Dest::Stream(s),
        None => Dest::File(Output::open(&args.output)?),
    };
    let stats = ckptlib::sys::LiveStats::default();
    let opts = checkpoint::Options {
        container: args.container,
        refusal: refusal.as_deref(),
        deleted_max: args.deleted_max,
        log: log.module(),
        stats: Some(&stats),
    };
    let fd = match &out {
        Dest::File(o) => o.fd(),
        Dest::Stream(s) => s.fd(),
    };
    let done = with_progress(
        &args.watch,
        target.procs(),
        target.tids().len(),
        &stats,
        || checkpoint::checkpoint(&dev, &target, &opts, fd),
    );
    let mut wire = None;
    let frozen = match out {
        Dest::File(o) => {
            done?;
            o.commit()?;
            ckptlib::phase::mark("checkpointed");
            release(target, args.kill, log)?;
            frozen.elapsed()
        }
        Dest::Stream(s) => {
            let not_killed = "the tree was not killed: it runs on";
            let sent = if args.kill {
                s.finish(done).context(not_killed)?
            } else {
                s.finish(done)?
            };
            ckptlib::phase::mark("checkpointed");
            log.line("the image is sent, waiting for the receiver's ACK");
            let frozen = if args.kill {
                // Killed only once the receiver has the image whole and checked.
                sent.acknowledged().context(not_killed)?;
                release(target, true, log)?;
                frozen.elapsed()
            } else {
                // A copy: the tree runs on at once, whatever the receiver answers.
                release(target, false, log)?;
                let frozen = frozen.elapsed();
                sent.acknowledged()?;
                frozen
            };
            log.line("the receiver acknowledged the image");
            wire = Some(sent.released(args.kill)?);
            frozen
        }
    };
    if let Some(format) = args.watch.stats {
        print_stats(format, &stats.get(), frozen, started.elapsed(), wire)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the image goes.
enum Dest {
    File(Output),
    Stream(send::Sender),
}

/// The image is complete (and with a stream, acknowledged): the tree is killed or runs on.
fn release(target: StoppedTree, kill: bool, log: &Logging) -> Result<()> {
    if kill {
        target.kill()?;
        ckptlib::phase::mark("killed");
        log.line("killed the tree");
    } else {
        drop(target);
    }
    Ok(())
}

/// Why rstr could not rebuild the stopped tree, planned from the `TREE` the module writes
/// of it; an error if the module refuses the tree itself.
fn plan_refusal(dev: &Device, target: &StoppedTree, container: bool) -> Result<Option<String>> {
    let entries = checkpoint::tree_entries(dev, target, container)?;
    Ok(plan::plan(&entries)
        .err()
        .map(|e| format!("{e:#}: restart could not rebuild this tree")))
}

/// `--stats`: the module's figures and the times, on standard error.
fn print_stats(
    format: ckptlib::logging::StatsFormat,
    s: &ckptlib::abi::CkptStats,
    frozen: std::time::Duration,
    total: std::time::Duration,
    wire: Option<u64>,
) -> Result<()> {
    let ms = |d: std::time::Duration| serde_json::json!(d.as_secs_f64() * 1e3);
    let mut figures = vec![
        ("frozen_ms", "frozen time", ms(frozen)),
        ("total_ms", "total time", ms(total)),
        ("tasks", "tasks", s.tasks.into()),
        ("files", "descriptors", s.files.into()),
        ("vmas", "memory areas", s.vmas.into()),
        ("pages_scanned", "pages scanned", s.pages_scanned.into()),
        ("pages_written", "pages written", s.pages_written.into()),
        ("pages_shared", "pages shared", s.pages_shared.into()),
        ("records", "records", s.records.into()),
        ("image_bytes", "image bytes", s.bytes.into()),
    ];
    if let Some(w) = wire {
        figures.push(("bytes_on_wire", "bytes on the wire", w.into()));
    }
    ckptlib::logging::print_stats(format, &figures)
}

/// Shows the progress of the checkpoint running in `work` from the module's figures
/// (`stats`), against the memory the tree's processes hold (`procs`), if a bar is wanted.
fn with_progress<T>(
    watch: &Watch,
    procs: &[i32],
    tasks: usize,
    stats: &ckptlib::sys::LiveStats,
    work: impl FnOnce() -> T,
) -> T {
    let total = procs.iter().map(|&p| memory_of(p)).sum();
    let bar = Progress::new("checkpoint", total, watch.progress());
    if !bar.shown() {
        return work();
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let s = stats.get();
                bar.set(s.bytes, || format!("tasks {}/{tasks}", s.tasks));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        let r = work();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    })
}

/// The memory of process `pid` a checkpoint saves, about: its anonymous and shared
/// memory resident (`RssAnon`, `RssShmem` of /proc/PID/status), in bytes.
fn memory_of(pid: i32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    ["RssAnon", "RssShmem"]
        .iter()
        .filter_map(|k| ckptlib::procfs::field(&status, k)?.strip_suffix("kB"))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

/// The image to show, buffered: a file, or standard input for `-`.
fn open_image(path: &PathBuf) -> Result<io::BufReader<Box<dyn io::Read>>> {
    let input: Box<dyn io::Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
    };
    Ok(io::BufReader::with_capacity(1 << 20, input))
}

#[derive(Clone, Copy, Debug)]
enum View {
    Ps,
    Mems,
    Fds,
    Summary,
    Errors,
}

/// One view of the image (ckptlib::image::views), as text or one JSON object. Exits as
/// the record dump does, non-zero for an image that is not complete; `--errors` only
/// through its exit status.
fn show_view(path: &PathBuf, view: View, json: bool) -> Result<ExitCode> {
    let c = views::Contents::read(open_image(path)?);
    fn put<T: serde::Serialize>(v: &T, text: impl FnOnce(&T) -> String, json: bool) -> Result<()> {
        let s = if json {
            serde_json::to_string(v)? + "\n"
        } else {
            text(v)
        };
        io::stdout().lock().write_all(s.as_bytes())?;
        Ok(())
    }
    match view {
        View::Ps => put(&c.ps(), views::Ps::text, json)?,
        View::Mems => put(&c.mems(), views::Mems::text, json)?,
        View::Fds => put(&c.fds(), views::Fds::text, json)?,
        View::Summary => put(&c.summary(), views::Summary::text, json)?,
        View::Errors => {
            let e = c.errors();
            put(&e, views::Errors::text, json)?;
            return Ok(if e.complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
    }
    c.check()?;
    Ok(ExitCode::SUCCESS)
}

fn show(path: &PathBuf, json: bool) -> Result<ExitCode> {
    let mut records = image::RecordReader::new(open_image(path)?);
    // Every check is the reader's: it fails on the first record that is wrong, after the
    // records before it are printed.
    let mut rd = image::ImageReader::new(&mut records);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let shown = (|| {
        while let Some(r) = rd.next_record()? {
            let d = Decoded::from(&r);
            if json {
                writeln!(out, "{}", serde_json::to_string(&d)?)?;
            } else {
                writeln!(out, "{}", describe(&d))?;
            }
            if let Rec::Error { error, reason } = r {
                bail!(
                    "the image ends with an ERROR record: the checkpoint failed (errno {}): {reason}",
                    error.error
                )
            }
        }
        Ok(())
    })();
    out.flush()?;
    shown.map(|()| ExitCode::SUCCESS)
}

/// One line for people.
fn describe(d: &Decoded) -> String {
    match d {
        Decoded::Pages {
            addr,
            nr_pages,
            fnv1a64,
        } => {
            format!("PAGES   {addr} {nr_pages} pages  fnv1a64 {fnv1a64}")
        }
        Decoded::Vma {
            start,
            end,
            kind,
            prot,
            path,
            ..
        } => {
            format!("VMA     {start}-{end} {prot} {kind} {path}")
        }
        Decoded::File {
            fd,
            kind,
            path,
            pos,
            flags,
            cloexec,
            obj,
            pipe,
            terminal,
            ..
        } => {
            let what = if *kind == "unix-socket" {
                format!("socket {pipe}")
            } else if *pipe != 0 && path.is_empty() {
                format!("pipe {pipe}")
            } else {
                path.clone()
            };
            format!(
                "FILE    fd {fd} {kind} {what} pos {pos} flags {flags}{} (file {obj}){}",
                if *cloexec { " cloexec" } else { "" },
                terminal.map_or(String::new(), |t| format!(" terminal ({t})"))
            )
        }
        Decoded::Tree { container, tasks } => {
            let mut s = format!(
                "TREE    {} tasks{}",
                tasks.len(),
                if *container { " (container)" } else { "" }
            );
            for t in tasks {
                s.push_str(&format!(
                    "\n        pid {} tgid {} ppid {} pgid {} sid {} mm {} files {} fs {} sighand {}{}{}{}",
                    t.pid,
                    t.tgid,
                    t.ppid,
                    t.pgid,
                    t.sid,
                    t.mm,
                    t.files,
                    t.fs,
                    t.sighand,
                    if t.zombie {
                        format!(" zombie(status {:#x})", t.exit_code)
                    } else {
                        String::new()
                    },
                    if t.stopped { " stopped" } else { "" },
                    if t.subreaper { " subreaper" } else { "" },
                ));
            }
            s
        }
        other => {
            let v = serde_json::to_value(other).unwrap_or_default();
            let mut s = format!("{:<7}", v["type"].as_str().unwrap_or("?"));
            if let Some(obj) = v.as_object() {
                for (k, val) in obj.iter().filter(|(k, _)| *k != "type" && *k != "all") {
                    s.push_str(&format!(" {k}={val}"));
                }
            }
            s
        }
    }
}
