// SPDX-License-Identifier: GPL-2.0

//! `ckpt --to HOST:PORT`: the image streamed over TCP to `rstr --listen`, framed and
//! checked (ckptlib::stream, Documentation/migration.rst). The module writes the image
//! into a pipe; a thread reads it and sends it as DATA frames, then END, or ERROR with the
//! reason when the checkpoint fails. Nothing is written to a file on either side.

use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag};

use ckptlib::image::read_full;
use ckptlib::stream::{Frame, Reader, Writer, MAX_DATA};

/// How long the receiver may take to answer END (it checks the whole image first).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long an address of the receiver may take to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a receiver, while the module writes the image into `pipe`.
pub struct Sender {
    to: String,
    conn: TcpStream,
    pipe: Option<OwnedFd>,
    outcome: mpsc::Sender<Option<String>>,
    framer: JoinHandle<Result<Writer<TcpStream>>>,
}

/// The image has gone out whole; the receiver is to answer.
pub struct Sent {
    to: String,
    conn: TcpStream,
    writer: Writer<TcpStream>,
}

impl Sender {
    /// Connects to `to` (HOST:PORT) and starts the thread that frames the image.
    pub fn connect(to: &str) -> Result<Sender> {
        let conn = connect(to)?;
        conn.set_nodelay(true).context("TCP_NODELAY")?;
        let (rd, wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
        // Fewer, larger reads; the default size if the limit forbids it.
        let _ = fcntl(&wr, FcntlArg::F_SETPIPE_SZ(1 << 20));
        let writer = Writer::new(conn.try_clone()?).with_context(|| format!("sending to {to}"))?;
        let (outcome, result) = mpsc::channel();
        let framer = std::thread::spawn(move || frame(std::fs::File::from(rd), writer, result));
        Ok(Sender {
            to: to.to_owned(),
            conn,
            pipe: Some(wr),
            outcome,
            framer,
        })
    }

    /// Where the module writes the image.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.pipe.as_ref().expect("the pipe is open").as_fd()
    }

    /// The checkpoint has ended with `done`: END follows the image, or ERROR with the
    /// checkpoint's reason (then that reason is the error).
    pub fn finish(mut self, done: Result<()>) -> Result<Sent> {
        self.pipe = None;
        let _ = self
            .outcome
            .send(done.as_ref().err().map(|e| format!("{e:#}")));
        let framed = self
            .framer
            .join()
            .map_err(|_| anyhow!("the thread sending the image panicked"))?;
        let writer = match framed {
            Ok(w) => w,
            Err(e) => {
                let e = e.context(format!("sending the image to {}", self.to));
                // A receiver that refused the stream half-way says why before it closes.
                return Err(match answer(&self.conn) {
                    Ok(Frame::Refuse(r)) => anyhow!("{} refused the image: {r}", self.to),
                    _ => e,
                });
            }
        };
        done?;
        Ok(Sent {
            to: self.to,
            conn: self.conn,
            writer,
        })
    }
}

/// A connection to the first address of `to` that answers within [`CONNECT_TIMEOUT`].
fn connect(to: &str) -> Result<TcpStream> {
    let addrs: Vec<_> = to
        .to_socket_addrs()
        .with_context(|| format!("cannot connect to {to}: expected HOST:PORT"))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
            Ok(c) => return Ok(c),
            Err(e) => last = Some(anyhow!("{a}: {e}")),
        }
    }
    Err(last
        .unwrap_or_else(|| anyhow!("no address"))
        .context(format!("cannot connect to {to}")))
}

/// `e` ended the checkpoint before the module wrote anything: the receiver, if any, gets
/// it in an ERROR frame. Returns the error to report.
pub fn failed(sender: Option<Sender>, e: anyhow::Error) -> anyhow::Error {
    match sender {
        Some(s) => match s.finish(Err(e)) {
            Err(e) => e,
            Ok(_) => unreachable!("finish of a failed checkpoint fails"),
        },
        None => e,
    }
}

/// The framing thread: the pipe's bytes as DATA frames of up to [`MAX_DATA`], then, once
/// the pipe ends, END or ERROR as the checkpoint's outcome says. On a send error it stops
/// reading, so that the module's next write fails instead of waiting.
fn frame(
    mut pipe: std::fs::File,
    mut w: Writer<TcpStream>,
    outcome: mpsc::Receiver<Option<String>>,
) -> Result<Writer<TcpStream>> {
    let mut buf = vec![0; MAX_DATA];
    loop {
        let got =
            read_full(&mut pipe, &mut buf).context("reading the image from the module's pipe")?;
        if got == 0 {
            break;
        }
        w.data(&buf[..got])?;
    }
    drop(pipe);
    match outcome.recv() {
        Ok(None) => w.end()?,
        Ok(Some(reason)) => w.error(&reason)?,
        Err(_) => w.error("ckpt stopped before the checkpoint ended")?,
    }
    Ok(w)
}

/// The receiver's one answer after the image.
fn answer(conn: &TcpStream) -> Result<Frame<'static>> {
    conn.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut r = Reader::new(conn)?;
    Ok(match r.frame()? {
        Frame::Ack => Frame::Ack,
        Frame::Refuse(reason) => Frame::Refuse(reason),
        other => bail!("{other:?} where ACK or REFUSE was expected"),
    })
}

impl Sent {
    /// Waits for the receiver's ACK: an error with its reason (REFUSE, the connection
    /// closed, no answer in time) otherwise.
    pub fn acknowledged(&self) -> Result<()> {
        match answer(&self.conn) {
            Ok(Frame::Ack) => Ok(()),
            Ok(Frame::Refuse(r)) => bail!("{} refused the image: {r}", self.to),
            Ok(_) => unreachable!(),
            Err(e) => Err(e.context(format!(
                "no ACK from {} (it answers within {} s once the image is whole and checked)",
                self.to,
                ANSWER_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Tells the receiver the tree is killed (`killed`) or runs on: it may restart now.
    pub fn released(mut self, killed: bool) -> Result<u64> {
        self.writer
            .released(killed)
            .with_context(|| format!("telling {} the tree is released", self.to))?;
        Ok(self.writer.bytes_on_wire())
    }
}
