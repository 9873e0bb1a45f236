//! A tiny HTTP/1.1 client over tokio's `TcpStream`, for the admin endpoints (`/metrics`,
//! `/debug/*`), etcd's `/health`, and the raw requests of the hostile-input test.
//!
//! Why not reqwest or hyper-util: the hostile-input test must send what a real client refuses
//! to (garbage instead of HTTP, a `Content-Length` larger than the body sent), and the admin
//! reads are one-shot GETs; one request per connection (`Connection: close`) keeps this to a
//! page of code with no new dependency.
//!
//! Invariants: every call has a deadline; responses are read up to
//! [`RESPONSE_BYTES_MAX`]; `Content-Length` and `Transfer-Encoding: chunked` bodies are
//! decoded, anything else is read to EOF.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response read.
pub const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connecting to or talking with {addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no complete response from {addr} within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    #[error("malformed response from {addr}: {what}")]
    Malformed { addr: SocketAddr, what: String },
    #[error("response from {addr} larger than {RESPONSE_BYTES_MAX} bytes")]
    TooLarge { addr: SocketAddr },
}

/// A parsed response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request with `Host`, `Content-Length` and `Connection: close` added, and reads
/// the response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, HttpError> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    let raw = exchange(addr, &bytes, timeout).await?;
    parse(addr, &raw)
}

/// `GET path`, with `Authorization: Bearer <token>` when a token is given.
pub async fn get(
    addr: SocketAddr,
    path: &str,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let auth;
    let mut headers = Vec::new();
    if let Some(token) = bearer {
        auth = format!("Bearer {token}");
        headers.push(("authorization", auth.as_str()));
    }
    request(addr, "GET", path, &headers, &[], timeout).await
}

/// Writes `bytes` as they are (no framing added), then reads until the peer closes, the
/// deadline passes (returns what arrived, possibly nothing) or [`RESPONSE_BYTES_MAX`].
/// A write error after the peer answered (it may close while we still send) is ignored.
pub async fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, HttpError> {
    let io = |source| HttpError::Io { addr, source };
    let work = async {
        let mut stream = TcpStream::connect(addr).await.map_err(io)?;
        let _ = stream.write_all(bytes).await;
        let _ = stream.flush().await;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return Ok(out),
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.len() > RESPONSE_BYTES_MAX {
                        return Err(HttpError::TooLarge { addr });
                    }
                }
                // A reset after a complete answer (the server closed with unread input).
                Err(e) if !out.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Ok(out);
                }
                Err(e) => return Err(io(e)),
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout { addr, timeout })?
}

/// Parses a complete response (status line, headers, body).
pub fn parse(addr: SocketAddr, raw: &[u8]) -> Result<Response, HttpError> {
    let bad = |what: &str| HttpError::Malformed {
        addr,
        what: what.to_owned(),
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("headers are not UTF-8"))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().unwrap_or_default().starts_with("HTTP/1.") {
        return Err(bad(&format!("status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| bad(&format!("header line {line:?}")))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    resp.body = if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest).ok_or_else(|| bad("bad chunked body"))?
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        if rest.len() < len {
            return Err(bad(&format!(
                "body cut short: {} of {len} bytes",
                rest.len()
            )));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(resp)
}

/// Decodes a chunked body; `None` when it is malformed or incomplete.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn addr() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[test]
    fn parses_content_length_chunked_and_read_to_eof_bodies() {
        let r = parse(
            addr(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloEXTRA",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(r.header("x-a"), Some("b"));
        let r = parse(
            addr(),
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.text().as_str()), (404, "abcde"));
        let r = parse(addr(), b"HTTP/1.0 500 Oops\r\n\r\nto the end").unwrap();
        assert_eq!((r.status, r.text().as_str()), (500, "to the end"));
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        for raw in [
            &b""[..],
            b"garbage",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"SMTP 220\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno-colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab\r\n",
        ] {
            assert!(
                matches!(parse(addr(), raw), Err(HttpError::Malformed { .. })),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[tokio::test]
    async fn request_sends_framing_and_reads_the_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.ends_with(b"ping") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "client closed early");
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\npong")
                .await
                .unwrap();
            String::from_utf8(got).unwrap()
        });
        let r = request(
            local,
            "POST",
            "/x",
            &[("authorization", "Bearer t")],
            b"ping",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!((r.status, r.text().as_str()), (201, "pong"));
        let sent = server.await.unwrap();
        assert!(sent.starts_with("POST /x HTTP/1.1\r\n"), "{sent}");
        assert!(sent.contains("authorization: Bearer t\r\n"), "{sent}");
        assert!(sent.contains("content-length: 4\r\n\r\nping"), "{sent}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_a_closed_port_is_an_io_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let t = get(local, "/", None, Duration::from_millis(200)).await;
        assert!(matches!(t, Err(HttpError::Timeout { .. })), "{t:?}");
        drop(listener);
        let e = get(local, "/", None, Duration::from_secs(2)).await;
        assert!(matches!(e, Err(HttpError::Io { .. })), "{e:?}");
    }
}
