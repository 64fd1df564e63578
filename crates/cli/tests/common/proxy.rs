//! A small fault-injecting HTTP/1.1 proxy that sits in front of a real server (SeaweedFS or
//! the Supabase contract server) to produce what real servers do only on bad days: bursts of
//! 5xx, a stalled connection, a truncated body, a body that changed on the way. It supplements
//! the real servers, never replaces them: every byte it does pass comes from them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer the first `n` requests with `503 Slow Down` (closing each connection), then pass
    /// everything through untouched.
    ServerErrors(usize),
    /// Accept connections and read requests, never answer.
    Stall,
    /// Answer each request whose request line contains `request`, after the first `pass`
    /// of them, with an S3 error of `status` and `code` (a server without a feature, or a key
    /// without a permission); pass the others through.
    Refuse {
        request: &'static str,
        pass: usize,
        status: u16,
        code: &'static str,
    },
    /// Pass requests through; drop the `<ETag>` of every part a ListParts answer lists, as
    /// s3s-fs does.
    NoPartETags,
    /// Pass everything through, both ways, in 8 KiB pieces 150 ms apart: slow but always
    /// moving (about 53 KiB/s).
    Slow,
    /// Pass requests through; cut each successful GET response body of 64 KiB or more after
    /// half its length and close the connection.
    TruncateBody,
    /// Pass requests through; flip one byte in the middle of each successful GET body of 64 KiB
    /// or more.
    CorruptBody,
    /// Pass everything through untouched, keeping each request's line (method and target)
    /// in [`Proxy::requests`].
    Record,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Requests seen (for 5xx: requests answered with 503; otherwise requests forwarded or
    /// held).
    pub hits: Arc<AtomicUsize>,
    /// Request lines seen, with [`Fault::Record`].
    pub requests: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Start a proxy for `upstream` (`http://host:port`) on this runtime.
    pub async fn start(upstream: &str, fault: Fault) -> Proxy {
        let upstream = upstream
            .trim_end_matches('/')
            .strip_prefix("http://")
            .expect("the proxy speaks plain http")
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let remaining = Arc::new(AtomicUsize::new(match fault {
            Fault::ServerErrors(n) => n,
            Fault::Refuse { pass, .. } => pass,
            _ => 0,
        }));
        let counter = hits.clone();
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (upstream, hits, remaining, log) = (
                    upstream.clone(),
                    counter.clone(),
                    remaining.clone(),
                    log.clone(),
                );
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, fault, &hits, &remaining, &log).await;
                });
            }
        });
        Proxy {
            url,
            hits,
            requests,
            task,
        }
    }
}

type Io<T> = std::io::Result<T>;

async fn serve(
    client: TcpStream,
    upstream: &str,
    fault: Fault,
    hits: &AtomicUsize,
    remaining: &AtomicUsize,
    log: &std::sync::Mutex<Vec<String>>,
) -> Io<()> {
    let mut client = BufReader::new(client);
    match fault {
        Fault::ServerErrors(_) => {
            let Some(head) = read_head(&mut client).await? else {
                return Ok(());
            };
            let take = remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if take {
                hits.fetch_add(1, Ordering::SeqCst);
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                client.get_mut().write_all(answer.as_bytes()).await?;
                client.get_mut().shutdown().await?;
                return Ok(());
            }
            // From here on, a plain pipe: the head already read, then everything else.
            let mut up = TcpStream::connect(upstream).await?;
            up.write_all(&head).await?;
            let buffered = client.buffer().to_vec();
            up.write_all(&buffered).await?;
            let mut client = client.into_inner();
            tokio::io::copy_bidirectional(&mut client, &mut up).await?;
            Ok(())
        }
        Fault::Stall => {
            hits.fetch_add(1, Ordering::SeqCst);
            // Read whatever comes, answer nothing, keep the connection open until dropped.
            let mut sink = [0u8; 8192];
            while client.read(&mut sink).await? > 0 {}
            std::future::pending::<()>().await;
            Ok(())
        }
        Fault::Slow => {
            hits.fetch_add(1, Ordering::SeqCst);
            let up = TcpStream::connect(upstream).await?;
            let (up_read, up_write) = up.into_split();
            let (client_read, client_write) = client.into_inner().into_split();
            let _ = tokio::try_join!(
                trickle(client_read, up_write),
                trickle(up_read, client_write)
            );
            Ok(())
        }
        Fault::TruncateBody
        | Fault::CorruptBody
        | Fault::NoPartETags
        | Fault::Refuse { .. }
        | Fault::Record => {
            let mut up = BufReader::new(TcpStream::connect(upstream).await?);
            loop {
                let Some(head) = read_head(&mut client).await? else {
                    return Ok(());
                };
                hits.fetch_add(1, Ordering::SeqCst);
                let request_line = head_text(&head);
                let mut words = request_line.split_whitespace();
                let method = words.next().unwrap_or("").to_string();
                let target = words.next().unwrap_or("").to_string();
                if fault == Fault::Record {
                    let line = request_line.lines().next().unwrap_or("").to_string();
                    log.lock().unwrap().push(line);
                }
                if let Fault::Refuse {
                    request,
                    status,
                    code,
                    ..
                } = fault
                {
                    let line = request_line.lines().next().unwrap_or("");
                    let passed = || {
                        remaining
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok()
                    };
                    if line.contains(request) && !passed() {
                        if let Some(n) = content_length(&head) {
                            let mut body = vec![0; n];
                            client.read_exact(&mut body).await?;
                        }
                        let body = format!(
                            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>refused by the test proxy</Message></Error>"
                        );
                        let answer = format!(
                            "HTTP/1.1 {status} Refused\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        client.get_mut().write_all(answer.as_bytes()).await?;
                        continue;
                    }
                }
                up.get_mut().write_all(&head).await?;
                if let Some(n) = content_length(&head) {
                    let mut body = vec![0; n];
                    client.read_exact(&mut body).await?;
                    up.get_mut().write_all(&body).await?;
                }
                let Some(rhead) = read_head(&mut up).await? else {
                    return Ok(());
                };
                let status: u16 = head_text(&rhead)
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let bodiless = method == "HEAD" || status == 204 || status == 304;
                if bodiless {
                    client.get_mut().write_all(&rhead).await?;
                    continue;
                }
                let (rhead, mut body) = if let Some(n) = content_length(&rhead) {
                    let mut body = vec![0; n];
                    up.read_exact(&mut body).await?;
                    (rhead, body)
                } else if is_chunked(&rhead) {
                    (dechunked_head(&rhead), read_chunked(&mut up).await?)
                } else {
                    let mut body = Vec::new();
                    up.read_to_end(&mut body).await?;
                    (rhead, body)
                };
                // Only object bodies: metadata and listings (small JSON and XML) pass untouched.
                let hurt = !matches!(fault, Fault::Record | Fault::NoPartETags)
                    && method == "GET"
                    && (200..300).contains(&status)
                    && body.len() >= 64 << 10;
                let rhead = with_length(&rhead, body.len());
                if hurt && fault == Fault::TruncateBody {
                    client.get_mut().write_all(&rhead).await?;
                    client.get_mut().write_all(&body[..body.len() / 2]).await?;
                    client.get_mut().flush().await?;
                    client.get_mut().shutdown().await?;
                    return Ok(());
                }
                let list_parts = method == "GET" && target.contains("uploadId=");
                if fault == Fault::NoPartETags && list_parts {
                    body = strip_etags(&head_text(&body)).into_bytes();
                } else if hurt && fault == Fault::CorruptBody {
                    let mid = body.len() / 2;
                    body[mid] ^= 0x5a;
                }
                let rhead = with_length(&rhead, body.len());
                client.get_mut().write_all(&rhead).await?;
                client.get_mut().write_all(&body).await?;
            }
        }
    }
}

/// `xml` without its `<ETag>…</ETag>` elements.
fn strip_etags(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<ETag>") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("</ETag>")
            .map_or("", |end| &rest[start + end + "</ETag>".len()..]);
    }
    out.push_str(rest);
    out
}

/// Copy `from` to `to` in 8 KiB pieces with a 150 ms pause after each.
async fn trickle(
    mut from: impl tokio::io::AsyncRead + Unpin,
    mut to: impl tokio::io::AsyncWrite + Unpin,
) -> Io<()> {
    let mut buf = vec![0u8; 8 << 10];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        to.write_all(&buf[..n]).await?;
        to.flush().await?;
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}

/// Reads up to and including the blank line ending a message head; None at a clean EOF.
async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Io<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(if head.is_empty() {
                None
            } else {
                Err(std::io::ErrorKind::UnexpectedEof)?
            });
        }
        let end = line == b"\r\n" || line == b"\n";
        head.extend_from_slice(&line);
        if end && head.len() > line.len() {
            return Ok(Some(head));
        }
    }
}

fn head_text(head: &[u8]) -> String {
    String::from_utf8_lossy(head).into_owned()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn content_length(head: &[u8]) -> Option<usize> {
    header(&head_text(head), "content-length").and_then(|v| v.parse().ok())
}

fn is_chunked(head: &[u8]) -> bool {
    header(&head_text(head), "transfer-encoding").is_some_and(|v| v.contains("chunked"))
}

/// The head without `transfer-encoding` (the body is re-sent with a length).
fn dechunked_head(head: &[u8]) -> Vec<u8> {
    let text = head_text(head);
    text.split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("transfer-encoding:"))
        .collect::<String>()
        .into_bytes()
}

/// The head with `content-length` set to `n`.
fn with_length(head: &[u8], n: usize) -> Vec<u8> {
    let text = head_text(head);
    let mut lines: Vec<&str> = text
        .split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:"))
        .collect();
    let blank = lines.pop().unwrap_or("\r\n");
    let length = format!("content-length: {n}\r\n");
    let mut out: String = lines.concat();
    out.push_str(&length);
    out.push_str(blank);
    out.into_bytes()
}

async fn read_chunked<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Io<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                line.clear();
                r.read_line(&mut line).await?;
                if line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).await?;
        line.clear();
        r.read_line(&mut line).await?;
    }
}
