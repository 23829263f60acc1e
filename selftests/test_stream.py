#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Streaming over TCP (Documentation/migration.rst): `ckpt --kill --to 127.0.0.1:PORT`
to `rstr --listen 127.0.0.1:0` in one guest, with no image file. The restarted process
has its pid and checks its memory pattern; through a proxy that flips one byte in the
middle of the stream, or one that cuts it, rstr refuses naming the frame, creates no
process, and ckpt, with no ACK, leaves the target running with its memory; the same as
uid 65534 (rstr with CAP_CHECKPOINT_RESTORE only).
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import (CKPT, NOBODY, NOBODY_CR, RSTR, SLOW, TARGET, Target, device_open_to_all,  # noqa: E402
                  kill_reaped, run, scratch, sh, stat, wait_for)

fresh = scratch("ckpt-stream-")
TIMEOUT = 120 * SLOW


def listen(user):
    """rstr -d --listen 127.0.0.1:0 (as USER's command prefix): the process and its port,
    from the line it prints on standard error."""
    rstr = subprocess.Popen([*user, RSTR, "--detach", "--stats=json", "--listen", "127.0.0.1:0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = rstr.stderr.readline()
    m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
    assert m, f"rstr's first line: {line!r}"
    assert int(m[1]) != 0, "the real port is printed, not 0"
    return rstr, int(m[1])


def send(user, pid, port):
    return subprocess.Popen([*user, CKPT, "--kill", "--stats=json", str(pid), "--to", f"127.0.0.1:{port}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stats(err):
    """The --stats=json object among a tool's lines on standard error."""
    objs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(objs) == 1, err
    return objs[0]


def targets_running():
    """The pids of every live process running the target program."""
    pids = []
    for e in os.listdir("/proc"):
        try:
            if e.isdigit() and os.readlink(f"/proc/{e}/exe") == TARGET and stat(e)[0] != "Z":
                pids.append(int(e))
        except OSError:
            pass
    return sorted(pids)


def image_size(user, pid, d):
    """The length of an image of PID now (the tree runs on): where the middle of a stream is."""
    img = os.path.join(d, "sized")
    sh(*user, CKPT, str(pid), "-o", img)
    n = os.path.getsize(img)
    os.unlink(img)
    return n


def in_payload(at):
    """AT moved past a frame header if it falls in one: DATA frames are full (a 16-byte
    stream header, then 20-byte headers before 256 KiB payloads) but for the last."""
    return at + 20 if (at - 16) % (20 + (256 << 10)) < 20 else at


class Proxy:
    """Relays one connection to 127.0.0.1:PORT: from the client, byte FLIP (offset in
    the stream) XOR 0x01, or only the first CUT bytes, then both sides closed."""

    def __init__(self, port, flip=None, cut=None):
        self.flip, self.cut, self.up_port = flip, cut, port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.relayed = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        client, _ = self.sock.accept()
        up = socket.create_connection(("127.0.0.1", self.up_port))
        back = threading.Thread(target=self.pump_back, args=(up, client), daemon=True)
        back.start()
        try:
            while True:
                b = bytearray(client.recv(1 << 16))
                if not b:
                    break
                if self.flip is not None and self.relayed <= self.flip < self.relayed + len(b):
                    b[self.flip - self.relayed] ^= 0x01
                if self.cut is not None and self.relayed + len(b) >= self.cut:
                    up.sendall(b[:self.cut - self.relayed])
                    self.relayed = self.cut
                    break
                up.sendall(b)
                self.relayed += len(b)
        except OSError:
            pass
        if self.cut is not None:
            up.shutdown(socket.SHUT_WR)
            client.close()
        back.join(TIMEOUT)
        for s in (up, client, self.sock):
            s.close()

    @staticmethod
    def pump_back(up, client):
        try:
            while True:
                b = up.recv(1 << 16)
                if not b:
                    break
                client.sendall(b)
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def migrated(user_ckpt=(), user_rstr=(), as_user=None):
    d = fresh("kill" if as_user is None else "nobody")
    if as_user is not None:
        os.chown(d, as_user, as_user)
    t = Target(d, "--mem", "16", "--signals", user=as_user, group=as_user)
    try:
        t.verify()
        rstr, port = listen(user_rstr)
        ckpt = send(user_ckpt, t.pid, port)
        c_out, c_err = ckpt.communicate(timeout=TIMEOUT)
        if ckpt.returncode != 0:
            rstr.kill()
            assert False, f"ckpt failed: {c_err}; rstr: {rstr.communicate()}"
        # Killed only after the ACK; its parent (this test) reaps it so the pid is free.
        t.proc.wait(timeout=TIMEOUT)
        out, err = rstr.communicate(timeout=TIMEOUT)
        assert rstr.returncode == 0, f"rstr failed: {err}"
        assert out.strip() == str(t.pid), f"rstr printed {out!r}, the pid was {t.pid}"
        sent, got = stats(c_err), stats(err)
        assert sent["bytes_on_wire"] == got["bytes_on_wire"], (sent, got)
        assert sent["bytes_on_wire"] > sent["image_bytes"] == got["image_bytes"] > 16 << 20, (sent, got)
        # The same pid, its 16 MiB pattern intact, counting on.
        assert targets_running() == [t.pid], targets_running()
        t.verify()
    finally:
        if t.alive():
            t.kill()
        elif stat(t.pid) is not None:
            kill_reaped(t.pid)  # the restored process, a child of init now


def streamed_and_killed_after_ack():
    migrated()


def streamed_as_nobody():
    with device_open_to_all():
        migrated(NOBODY, NOBODY_CR, 65534)


def refused(name, proxy_args, expect):
    """Through a Proxy(**PROXY_ARGS(image size)): rstr refuses with EXPECT (a regex),
    creates nothing, and ckpt leaves the target running with its memory."""
    d = fresh(name)
    t = Target(d, "--mem", "16", "--signals")
    try:
        t.verify()
        rstr, port = listen(())
        proxy = Proxy(port, **proxy_args(image_size((), t.pid, d)))
        ckpt = send((), t.pid, proxy.port)
        out, err = rstr.communicate(timeout=TIMEOUT)
        c_out, c_err = ckpt.communicate(timeout=TIMEOUT)
        assert rstr.returncode == 1 and out == "", (rstr.returncode, out, err)
        assert re.search(expect, err), err
        assert ckpt.returncode == 1, c_err
        assert "the tree was not killed: it runs on" in c_err, c_err
        # No process made by rstr, and the target runs on, its memory as it was.
        assert t.alive(), "the target was killed without an ACK"
        assert targets_running() == [t.pid], targets_running()
        t.verify()
    finally:
        t.kill()


def a_flipped_byte_is_refused_and_the_target_lives():
    refused("flip", lambda size: {"flip": in_payload(size // 2)},
            r"rstr: error: the image streamed from 127\.0\.0\.1:\d+ is refused: frame \d+ "
            r"\(DATA at byte \d+\), image bytes \d+\.\.\d+: its payload's CRC does not match")


def a_cut_stream_is_refused_and_the_target_lives():
    refused("cut", lambda size: {"cut": in_payload(size // 2)},
            r"rstr: error: the image streamed from 127\.0\.0\.1:\d+ is refused: the stream ends at "
            r"byte \d+, inside frame \d+ \(DATA at byte \d+\), \d+ of its \d+ bytes: it was cut short")


def a_refused_checkpoint_reaches_rstr_as_error():
    """The module refuses the tree (memory-deny-write-execute, PR_SET_MDWE): ckpt sends ERROR with the
    module's reason, rstr fails with it, and the process runs on."""
    d = fresh("error")
    ready = os.path.join(d, "ready")
    code = ("import ctypes, sys, time; "
            "assert ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) == 0; "  # PR_SET_MDWE
            "open(sys.argv[1], 'w').close(); time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code, ready], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(ready), "python to start")
        rstr, port = listen(())
        ckpt = send((), p.pid, port)
        out, err = rstr.communicate(timeout=TIMEOUT)
        c_out, c_err = ckpt.communicate(timeout=TIMEOUT)
        reason = f"pid {p.pid} uses memory-deny-write-execute (PR_SET_MDWE)"
        assert ckpt.returncode == 1 and reason in c_err, c_err
        assert rstr.returncode == 1 and out == "", (out, err)
        assert re.search(r"is refused: the sender failed: .*" + re.escape(reason), err), err
        assert p.poll() is None, "the refused process runs on"
    finally:
        p.kill()
        p.wait()


TESTS = [
    streamed_and_killed_after_ack,
    a_flipped_byte_is_refused_and_the_target_lives,
    a_cut_stream_is_refused_and_the_target_lives,
    a_refused_checkpoint_reaches_rstr_as_error,
    streamed_as_nobody,
]
if __name__ == "__main__":
    names = sys.argv[1:]
    sys.exit(run([t for t in TESTS if not names or t.__name__ in names]))
