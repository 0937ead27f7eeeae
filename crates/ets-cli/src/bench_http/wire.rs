//! The bench's own HTTP/1.1 client for the measured requests: one keep-alive
//! TCP connection written and read by hand (a fixed request head, the
//! `Content-Length` framing of the answers, nothing else), so that the
//! client spends as little of the shared CPUs as it can and can pipeline:
//! send several requests before reading their answers, which HTTP/1.1
//! allows and `ets serve` answers in order.

use anyhow::{Context, Result, bail};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::ops::Range;
use tokio::net::TcpStream;

/// One answer: its status and where its body lies in [`Wire::body`]'s buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    body: Range<usize>,
}

/// One keep-alive connection that sends `POST`s of JSON to one path.
pub struct Wire {
    stream: TcpStream,
    /// `POST <path> HTTP/1.1` and the fixed headers, up to `content-length: `.
    head: Vec<u8>,
    /// Requests queued and not yet written.
    out: Vec<u8>,
    /// Bytes read and not yet consumed; the last answer's body starts at `consumed`.
    input: Vec<u8>,
    consumed: usize,
}

/// The `host:port` of a plain `http://` base URL.
///
/// # Errors
/// A base that is not `http://host:port`.
pub fn authority(base: &str) -> Result<&str> {
    let Some(authority) = base.strip_prefix("http://") else {
        bail!("the bench speaks plain HTTP: the URL must start with http://, not {base}");
    };
    Ok(authority.split('/').next().unwrap_or(authority))
}

impl Wire {
    /// Connects to `address` (Nagle off: requests and answers go out at once).
    ///
    /// # Errors
    /// The connection's error.
    pub async fn connect(address: SocketAddr, host: &str, path: &str, token: &str) -> Result<Wire> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true)?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: "
        )
        .into_bytes();
        Ok(Wire {
            stream,
            head,
            out: Vec::new(),
            input: Vec::with_capacity(16 * 1024),
            consumed: 0,
        })
    }

    /// Queues one request with `body`; [`Wire::flush`] sends what is queued.
    pub fn queue(&mut self, body: &str) {
        self.out.extend_from_slice(&self.head);
        self.out
            .extend_from_slice(body.len().to_string().as_bytes());
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(body.as_bytes());
    }

    /// Writes every queued request.
    ///
    /// # Errors
    /// The socket's error.
    pub async fn flush(&mut self) -> Result<()> {
        let mut written = 0;
        while written < self.out.len() {
            self.stream.writable().await?;
            match self.stream.try_write(&self.out[written..]) {
                Ok(0) => bail!("the server closed the connection"),
                Ok(count) => written += count,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) => return Err(error.into()),
            }
        }
        self.out.clear();
        Ok(())
    }

    /// Reads the next answer (the earlier one's bytes are dropped).
    ///
    /// # Errors
    /// The socket's error, a closed connection, or an answer that is not
    /// HTTP/1.1 framed by `Content-Length`.
    pub async fn answer(&mut self) -> Result<Answer> {
        self.input.drain(..self.consumed);
        self.consumed = 0;
        loop {
            if let Some((status, body)) = parse_answer(&self.input)? {
                self.consumed = body.end;
                return Ok(Answer { status, body });
            }
            self.stream.readable().await?;
            let filled = self.input.len();
            self.input.resize(filled + 16 * 1024, 0);
            match self.stream.try_read(&mut self.input[filled..]) {
                Ok(0) => {
                    self.input.truncate(filled);
                    bail!("the server closed the connection");
                }
                Ok(count) => self.input.truncate(filled + count),
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    self.input.truncate(filled);
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The body of `answer`, the last one read.
    #[must_use]
    pub fn body(&self, answer: &Answer) -> &[u8] {
        &self.input[answer.body.clone()]
    }
}

/// The status and body range of the first complete answer in `bytes`, if
/// it has fully arrived.
///
/// # Errors
/// A head that is not an HTTP/1.1 status line with `Content-Length`.
fn parse_answer(bytes: &[u8]) -> Result<Option<(u16, Range<usize>)>> {
    let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..end]).context("the answer's head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP/1.1 status line: {status_line:?}"))?;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse::<usize>()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!(
                "the answer is {}; the bench reads Content-Length only",
                value.trim()
            );
        }
    }
    let length = length.context("the answer has no Content-Length")?;
    let body = end + 4..end + 4 + length;
    Ok((bytes.len() >= body.end).then_some((status, body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_framed_by_their_content_length() {
        let two = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 422 Unprocessable Entity\r\ncontent-length: 3\r\n\r\n[1]";
        let (status, body) = parse_answer(two).unwrap().unwrap();
        assert_eq!((status, &two[body.clone()]), (200, &b"{}"[..]));
        let (status, second) = parse_answer(&two[body.end..]).unwrap().unwrap();
        assert_eq!((status, &two[body.end..][second]), (422, &b"[1]"[..]));
        // Not all there yet: no answer, no error.
        assert_eq!(parse_answer(&two[..body.end - 1]).unwrap(), None);
        assert_eq!(parse_answer(b"HTTP/1.1 200 OK\r\n").unwrap(), None);
        // Framing the bench does not read is an error, not a hang.
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_answer(b"SMTP ready\r\n\r\n").is_err());
    }

    #[test]
    fn the_authority_comes_from_a_plain_http_base() {
        assert_eq!(
            authority("http://127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(authority("http://localhost:1/x").unwrap(), "localhost:1");
        assert!(authority("https://127.0.0.1:8080").is_err());
    }
}
