//! A keep-alive HTTP/1.1 connection that sends signed DynamoDB requests: the lean client of
//! `scripts/bench cluster` (the AWS SDK's per-call machinery — endpoint resolution,
//! interceptors, retries, its own SigV4 and JSON layers — costs several times etcd-client's CPU
//! per call on the same two cores, which the benchmark would otherwise charge to the server).
//!
//! What it still does, like any DynamoDB client: every request is a real `POST /` with
//! `X-Amz-Target`, JSON 1.0 and a fresh SigV4 signature (`aws-sigv4`, the SDKs' own signer,
//! through [`crate::dynamo::request_headers`]); responses are read by their
//! `Content-Length` (or chunked encoding) and parsed by [`crate::http::parse`]. No retries:
//! a failure is returned to the caller.
//!
//! Invariants: one request in flight per connection; every call has a deadline; a response
//! larger than [`crate::http::RESPONSE_BYTES_MAX`] or a broken connection drops the
//! connection (the next call reconnects).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cluster::AccessKey;
use crate::dynamo::request_headers;
use crate::http::{HttpError, RESPONSE_BYTES_MAX, Response, parse};

/// One keep-alive connection to a node's DynamoDB endpoint.
pub struct DynamoConn {
    addr: SocketAddr,
    key: Arc<AccessKey>,
    timeout: Duration,
    stream: Option<TcpStream>,
    /// Bytes read but not yet consumed (a response is consumed whole).
    buf: Vec<u8>,
}

impl Clone for DynamoConn {
    /// A clone shares the address and key, not the connection (it opens its own).
    fn clone(&self) -> Self {
        DynamoConn::new(self.addr, self.key.clone(), self.timeout)
    }
}

impl DynamoConn {
    pub fn new(addr: SocketAddr, key: Arc<AccessKey>, timeout: Duration) -> DynamoConn {
        DynamoConn {
            addr,
            key,
            timeout,
            stream: None,
            buf: Vec::with_capacity(8 * 1024),
        }
    }

    /// Sends `DynamoDB_20120810.<operation>` with `body`, signed, and returns the response.
    pub async fn call(&mut self, operation: &str, body: &[u8]) -> Result<Response, HttpError> {
        let addr = self.addr;
        let timeout = self.timeout;
        let request = self.encode(operation, body);
        let res = tokio::time::timeout(timeout, self.exchange(&request)).await;
        match res {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                Err(HttpError::Timeout { addr, timeout })
            }
        }
    }

    fn encode(&self, operation: &str, body: &[u8]) -> Vec<u8> {
        let host = self.addr.to_string();
        let headers = request_headers(Some(self.key.as_ref()), &host, operation, body);
        let mut out = Vec::with_capacity(body.len() + 512);
        out.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (k, v) in &headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Response, HttpError> {
        let addr = self.addr;
        let io = |source| HttpError::Io { addr, source };
        if self.stream.is_none() {
            let s = TcpStream::connect(addr).await.map_err(io)?;
            s.set_nodelay(true).map_err(io)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(request).await.map_err(io)?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(total) = complete_len(&self.buf) {
                let resp = parse(addr, &self.buf[..total])?;
                // Responses are consumed whole; a server sends nothing unasked.
                self.buf.drain(..total);
                if resp
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                {
                    self.stream = None;
                }
                return Ok(resp);
            }
            let n = stream.read(&mut chunk).await.map_err(io)?;
            if n == 0 {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed before a complete response",
                )));
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if self.buf.len() > RESPONSE_BYTES_MAX {
                return Err(HttpError::TooLarge { addr });
            }
        }
    }
}

/// The length of the complete response at the start of `buf`, if it has fully arrived.
fn complete_len(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut chunked = false;
    let mut length = None;
    for line in head.split("\r\n").skip(1) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    if chunked {
        // Complete when the last chunk (`0\r\n\r\n`) has arrived.
        let body = &buf[head_end..];
        let end = body.windows(5).position(|w| w == b"0\r\n\r\n")?;
        return Some(head_end + end + 5);
    }
    let total = head_end + length.unwrap_or(0);
    (buf.len() >= total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::complete_len;

    #[test]
    fn complete_len_waits_for_the_whole_body() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
        let mut buf = head.to_vec();
        assert_eq!(complete_len(&buf[..10]), None);
        buf.extend_from_slice(b"abc");
        assert_eq!(complete_len(&buf), None);
        buf.extend_from_slice(b"de");
        assert_eq!(complete_len(&buf), Some(head.len() + 5));
        buf.extend_from_slice(b"HTTP/1.1");
        assert_eq!(complete_len(&buf), Some(head.len() + 5));
    }

    #[test]
    fn complete_len_of_a_chunked_body() {
        let mut buf = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n".to_vec();
        assert_eq!(complete_len(&buf), None);
        buf.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(complete_len(&buf), Some(buf.len()));
    }
}
