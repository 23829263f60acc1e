#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Programs this project did not write, from the distribution (installed by scripts/setup),
checkpointed with --kill and restarted, then used by a client as before:

- redis-server (a listening TCP socket, an epoll, background threads, jemalloc) holding
  10,000 keys: redis-cli reads every key back after the restart and writes new ones;
- a Python asyncio server on a unix socket (an epoll, a socketpair for its wakeups, a
  listening unix socket): it keeps serving and its request count goes on;
- a shell pipeline through a named pipe (FIFO): a writer loop, `cat`, and the numbers
  keep flowing into the output file with none lost and none repeated;
- `tail -f` (an inotify watch on the file it follows): lines appended after the restart
  are printed, none before them twice;
- a shell looping in a directory it removed (and holds open): it goes on there, the
  directory still removed.

Each test skips if its program is not installed; what it asserts is what the client reads.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import CKPT, RSTR, records, run, scratch, sh, show_json, skip, stat, wait_for  # noqa: E402

fresh = scratch("ckpt-programs-")


class Program:
    """A program started in a session of its own, its stdout and stderr in DIR/log; killed
    with every process whose fd 2 is that log (restored or not) when the block ends."""

    def __init__(self, d, argv, **kw):
        self.dir = d
        self.log = os.path.join(d, "log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True, cwd=d, **kw)
        self.pid = self.proc.pid

    def __enter__(self):
        return self

    def members(self):
        out = set()
        for e in os.listdir("/proc"):
            try:
                if e.isdigit() and os.readlink(f"/proc/{e}/fd/2") == self.log:
                    out.add(int(e))
            except OSError:
                pass
        return out

    def __exit__(self, *exc):
        for p in self.members() | {self.pid}:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        wait_for(lambda: not self.members(), "the program's processes to die", timeout=60)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def checkpoint_restart(self):
        """ckpt --kill the program's tree, wait for its pids to be free, rstr --detach the
        image; returns the restored root's pid."""
        img = os.path.join(self.dir, "img")
        pids = self.members() | {self.pid}
        st, _, err = sh(CKPT, "--kill", str(self.pid), "-o", img, check=False, timeout=300)
        assert st == 0, f"ckpt --kill exited {st}: {err.strip()}"
        self.proc.wait(timeout=60)
        wait_for(lambda: all(stat(p) is None for p in pids), "the checkpointed processes to go", timeout=60)
        st, out, err = sh(RSTR, "--detach", img, check=False, timeout=300)
        assert st == 0, f"rstr --detach exited {st}: {err.strip()}"
        return int(out)


def need(*programs):
    for p in programs:
        if not shutil.which(p):
            skip(f"{p} is not installed (scripts/setup installs it)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))


def redis_cli(port, *args, stdin=None):
    p = subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, f"redis-cli {' '.join(args)}: {p.stderr.strip()}"
    return p.stdout.strip()


def redis_keeps_its_10000_keys():
    """redis-server with 10,000 keys written by redis-cli --pipe: after checkpoint --kill and
    restart, DBSIZE is 10000, every value reads back (MGET of all of them), the server's
    run id is the same process's, and it takes new writes."""
    need("redis-server", "redis-cli")
    d = fresh("redis")
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", d, "--daemonize", "no", "--protected-mode", "no"]
    with Program(d, argv) as prog:
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True,
                                        text=True).stdout.strip() == "PONG", "redis-server to answer PING")
        n = 10000
        cmds = "".join(f"SET key:{i} value:{i * 7919 % 100003}\r\n" for i in range(n))
        out = redis_cli(port, "--pipe", stdin=cmds)
        assert f"replies: {n}" in out and "errors: 0" in out, out
        run_id = re.search(r"run_id:(\w+)", redis_cli(port, "INFO", "server")).group(1)
        threads = threads_of(prog.pid)
        assert threads > 1, f"redis-server has its background threads: {threads}"

        pid = prog.checkpoint_restart()
        assert threads_of(pid) == threads, f"{threads_of(pid)} threads after the restart, {threads} before"

        assert redis_cli(port, "DBSIZE") == str(n)
        values = redis_cli(port, "MGET", *[f"key:{i}" for i in range(n)]).splitlines()
        want = [f"value:{i * 7919 % 100003}" for i in range(n)]
        bad = [i for i in range(n) if i >= len(values) or values[i] != want[i]]
        assert not bad, f"{len(bad)} keys read back wrong, first key:{bad[0]}"
        assert re.search(r"run_id:(\w+)", redis_cli(port, "INFO", "server")).group(1) == run_id
        assert redis_cli(port, "SET", "after", "restart") == "OK"
        assert redis_cli(port, "INCRBY", "counter", "5") == "5"
        assert redis_cli(port, "GET", "after") == "restart"


ASYNCIO_SERVER = r"""
import asyncio, os, sys
path = sys.argv[1]
served = 0

async def handle(reader, writer):
    global served
    while line := await reader.readline():
        served += 1
        writer.write(b"%d %s" % (served, line))
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_unix_server(handle, path)
    open(path + ".ready", "w").close()
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def ask(path, lines):
    """Sends each line on one connection to the unix socket PATH; returns the replies."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(path)
        f = s.makefile("rwb")
        replies = []
        for line in lines:
            f.write(line.encode() + b"\n")
            f.flush()
            replies.append(f.readline().decode().rstrip("\n"))
        return replies


def asyncio_server_keeps_serving():
    """A Python asyncio server on a unix socket answers "N line" with N the requests it has
    served: after the restart, a new client is served on the same path and N goes on from
    where it was (the program's own state), on a fresh connection and a second one."""
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        skip("/usr/bin/python3 is not installed")
    d = fresh("asyncio")
    path = os.path.join(d, "sock")
    with open(os.path.join(d, "server.py"), "w") as f:
        f.write(ASYNCIO_SERVER)
    with Program(d, [python, "-I", os.path.join(d, "server.py"), path]) as prog:
        wait_for(lambda: os.path.exists(path + ".ready"), "the asyncio server to listen")
        assert ask(path, ["a", "b", "c"]) == ["1 a", "2 b", "3 c"]
        prog.checkpoint_restart()
        assert ask(path, ["after"]) == ["4 after"], prog.text()[-2000:]
        assert ask(path, ["x", "y"]) == ["5 x", "6 y"]


def numbers(path):
    with open(path) as f:
        return [int(w) for w in f.read().split()]


def fifo_pipeline_keeps_flowing():
    """sh runs `writer > FIFO &` and `cat FIFO > out`: the writer loop writes 1, 2, 3... every
    20 ms; after checkpoint --kill and restart of the whole session, the output file goes on
    growing with the next numbers, none lost, none twice (the FIFO's buffered bytes and the
    shell's loop variable come back)."""
    need("sh", "cat", "sleep")
    d = fresh("fifo")
    script = ("mkfifo fifo; "
              "(i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo $i; sleep 0.02; done) > fifo & "
              "cat fifo > out; wait")
    with Program(d, ["sh", "-c", script]) as prog:
        out = os.path.join(d, "out")
        wait_for(lambda: os.path.exists(out) and len(numbers(out)) >= 20, "the pipeline to flow")
        prog.checkpoint_restart()
        before = len(numbers(out))
        wait_for(lambda: len(numbers(out)) >= before + 30, f"the pipeline to flow again after the restart: "
                 f"{prog.text()[-500:]}", timeout=120)
        got = numbers(out)
        assert got == list(range(1, len(got) + 1)), \
            f"numbers lost or repeated around the restart: {[x for x in got if x > before - 5][:20]}"



def shell_in_a_removed_directory_goes_on():
    """sh makes a directory, enters it, holds it open at fd 3 and removes it (a build
    script's pattern), then loops: each turn appends its count and what stat (coreutils)
    says of "." and of fd 3 (links, mode) and whether a file can be made there. After
    checkpoint --kill and restart the loop goes on in a removed directory as before: same
    figures, counts consecutive, still nothing can be made there."""
    need("sh", "stat", "sleep")
    d = fresh("rmcwd")
    out = os.path.join(d, "out")
    script = ('mkdir gone && cd gone && exec 3< . && rmdir "$PWD" && i=0; '
              'while [ $i -lt 100000 ]; do i=$((i+1)); '
              'm=$( (: > x) 2>/dev/null && echo made || echo refused); '
              'echo "$i $(stat -c %h.%a .) $(stat -L -c %h.%a /dev/fd/3) $m" >> "$OUT"; '
              'sleep 0.05; done')
    with Program(d, ["sh", "-c", script], env={**os.environ, "OUT": out}) as prog:
        def lines():
            with open(out) as f:
                return [ln.split() for ln in f.read().splitlines() if ln]
        wait_for(lambda: os.path.exists(out) and len(lines()) >= 5, f"the loop to run: {prog.text()}")
        assert lines()[-1][1:] == ["0.755", "0.755", "refused"], lines()[-1]
        prog.checkpoint_restart()
        before = len(lines())
        wait_for(lambda: len(lines()) >= before + 10, f"the loop to go on after the restart: "
                 f"{prog.text()[-500:]}", timeout=120)
        got = lines()
        assert [int(ln[0]) for ln in got] == list(range(1, len(got) + 1)), got[before - 3:before + 3]
        assert all(ln[1:] == ["0.755", "0.755", "refused"] for ln in got), \
            [ln for ln in got if ln[1:] != ["0.755", "0.755", "refused"]][:5]
        assert not os.path.exists(os.path.join(d, "gone")), os.listdir(d)


def tail_follows_after_restart():
    """tail -f (coreutils) follows a file through an inotify watch: after checkpoint --kill
    and restart (the image holds the watch), the lines appended are printed once each,
    after the ones printed before."""
    need("tail")
    d = fresh("tail")
    followed = os.path.join(d, "followed")
    with open(followed, "w") as f:
        f.write("".join(f"line {i}\n" for i in range(1, 4)))
    with Program(d, ["tail", "-n", "+1", "-f", followed]) as prog:
        want = [f"line {i}" for i in range(1, 4)]
        wait_for(lambda: prog.text().splitlines() == want, "tail to print the first lines")
        prog.checkpoint_restart()
        watches = records(show_json(os.path.join(d, "img")), "INOTIFY_WATCH")
        assert [w["path"].endswith("/followed") for w in watches] == [True], watches
        with open(followed, "a") as f:
            f.write("line 4\nline 5\n")
        want += ["line 4", "line 5"]
        wait_for(lambda: prog.text().splitlines() == want, "tail to print the lines appended",
                 timeout=30)


if __name__ == "__main__":
    sys.exit(run([redis_keeps_its_10000_keys, asyncio_server_keeps_serving, fifo_pipeline_keeps_flowing,
                  shell_in_a_removed_directory_goes_on, tail_follows_after_restart]))
