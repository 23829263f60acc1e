// SPDX-License-Identifier: GPL-2.0

//! `rstr --listen [ADDR:]PORT`: the image streamed by `ckpt --to` over TCP
//! (ckptlib::stream, Documentation/migration.rst). One connection is accepted; its frames
//! are checked as they come and the image goes into the same unnamed memory file a pipe's
//! image goes into (no file on disk). A damaged or cut stream is refused (REFUSE, with the
//! reason, to the sender) before any process exists. Once the image is whole and has
//! passed the checks made before the tree is built, rstr answers ACK and waits for the
//! sender's RELEASED: only then does it build the tree.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use ckptlib::logging::Logging;
use ckptlib::stream::{Frame, Reader, Writer};

/// The longest wait for the sender's next frame.
const FRAME_TIMEOUT: Duration = Duration::from_secs(120);
/// After RELEASED of a killed tree, the longest wait for its pids to be free (the old
/// processes' parents reap them).
const PIDS_FREE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[ADDR:]PORT`: a port alone listens on 127.0.0.1.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.to_socket_addrs()
        .map_err(|e| format!("{s}: {e} (expected [ADDR:]PORT, e.g. 7777 or 0.0.0.0:7777)"))?
        .next()
        .ok_or_else(|| format!("{s}: no address"))
}

/// The connection to `ckpt --to`, once the image is in.
pub struct Conn {
    peer: SocketAddr,
    reader: Reader<TcpStream>,
    writer: Writer<TcpStream>,
}

/// Listens on `addr` (the address, its port chosen if 0, printed on standard error),
/// accepts one connection and reads the image from it into a memory file, checked.
pub fn receive(addr: SocketAddr, log: &Logging) -> Result<(File, Conn)> {
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    {
        let mut err = io::stderr().lock();
        writeln!(err, "listening on {local}")?;
        err.flush()?;
    }
    let (conn, peer) = listener.accept().context("accepting the connection")?;
    drop(listener);
    log.line(&format!("connection from {peer}"));
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(FRAME_TIMEOUT))?;
    let mut writer = Writer::new(conn.try_clone()?)?;
    let got = (|| {
        let mut reader = Reader::new(conn.try_clone()?)?;
        let mut image = crate::files::memory_file()?;
        let bytes = reader.image_into(&mut image)?;
        image.rewind()?;
        Ok((reader, image, bytes))
    })();
    match got {
        Ok((reader, image, bytes)) => {
            log.line(&format!(
                "image of {bytes} bytes from {peer}: every frame checked"
            ));
            Ok((
                image,
                Conn {
                    peer,
                    reader,
                    writer,
                },
            ))
        }
        Err(e) => {
            let e: anyhow::Error = e;
            let _ = writer.refuse(&format!("{e:#}"));
            Err(e.context(format!("the image streamed from {peer} is refused")))
        }
    }
}

impl Conn {
    /// The image failed a check before the tree was built: the sender is told why.
    pub fn refuse(&mut self, why: &anyhow::Error) {
        let _ = self.writer.refuse(&format!("{why:#}"));
    }

    /// Answers ACK and waits for the sender to release the tree: returns once it is
    /// killed (and, for `pids` of this machine, they are free again, at most
    /// [`PIDS_FREE_TIMEOUT`]) or left running as the sender chose. Without RELEASED
    /// nothing is restarted: the tree may still run at the source.
    pub fn ack_and_wait(&mut self, pids: &[i32], log: &Logging) -> Result<()> {
        self.writer.ack().context("sending ACK")?;
        let killed = match self.reader.frame() {
            Ok(Frame::Released { killed }) => killed,
            Ok(other) => bail!("{other:?} from {} where RELEASED was expected", self.peer),
            Err(e) => {
                return Err(e.context(format!(
                    "{} did not say it released the tree after the ACK: not restarted, \
                     it may still run there",
                    self.peer
                )))
            }
        };
        log.line(if killed {
            "the sender killed the tree"
        } else {
            "the sender left the tree running"
        });
        if killed {
            let end = Instant::now() + PIDS_FREE_TIMEOUT;
            while Instant::now() < end
                && pids
                    .iter()
                    .any(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// The framed bytes received.
    pub fn bytes_on_wire(&self) -> u64 {
        self.reader.bytes_on_wire()
    }
}
