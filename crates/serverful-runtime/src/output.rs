//! A function process's stdout and stderr: each line goes to the log sink (with the
//! request id of the invocation the instance is running, if any), and a flush lets the
//! runtime print `END` only after every line written before the answer.
//!
//! The answer arrives over a socket while the output travels through a pipe, so without
//! a flush the last lines of an invocation could show after its `END`. A flush reads the
//! pipe with a real non-blocking `read`, which sees every byte already written, whatever
//! the reactor has noticed so far. It reads on the caller's own thread, under the lock
//! its pipe's reader task takes too: a flush per invocation used to wake each reader
//! task and wait for its answer, two task wake-ups and two timers for what is, in the
//! common case, one `read` that finds the pipe empty.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::unix::pipe;

use crate::logs::{LogSink, LogTail};

/// A line longer than this is emitted in pieces rather than buffered without bound.
const MAX_LINE_BYTES: usize = 256 * 1024;

/// The invocation whose request id a process's output lines carry: a Lambda-mode
/// instance runs one at a time, so what it writes meanwhile belongs to it. Its lines also
/// go to its caller's [`LogTail`], if it asked for one.
#[derive(Debug, Default, Clone)]
struct CurrentRequest(Arc<Mutex<Option<Tag>>>);

/// A line's request id, and the tail its caller keeps of its log.
type Tag = (Arc<str>, Option<LogTail>);

impl CurrentRequest {
    fn get(&self) -> Option<Tag> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, request_id: Option<&str>, tail: Option<LogTail>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            request_id.map(|request_id| (Arc::from(request_id), tail));
    }
}

/// The readers of one process's output pipes.
#[derive(Debug, Default)]
pub(crate) struct OutputPipes {
    pipes: Vec<Arc<Pipe>>,
    request: CurrentRequest,
}

/// One output pipe, shared by its reader task and [`OutputPipes::flush`]: whoever holds
/// the lock reads what the pipe has and emits the complete lines, so lines keep their
/// order whoever reads them.
#[derive(Debug)]
struct Pipe {
    /// A plain handle on the pipe for real, non-blocking reads (the reader task waits for
    /// data on a tokio handle of the same pipe).
    direct: File,
    state: Mutex<PipeState>,
    output: Output,
}

#[derive(Debug, Default)]
struct PipeState {
    /// Bytes read but not yet emitted: the start of a line.
    pending: Vec<u8>,
    /// The pipe has reached its end (or failed); nothing more is read from it.
    ended: bool,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads whatever the pipe holds now and emits its complete lines (all of it at the
    /// end of the pipe). Returns the read's result: `Ok(true)` at the end.
    fn drain(&self) -> io::Result<bool> {
        let mut state = self.lock();
        if state.ended {
            return Ok(true);
        }
        let result = read_available(&self.direct, &mut state.pending);
        let at_end = !matches!(result, Ok(false));
        emit_lines(&mut state.pending, at_end, &self.output);
        state.ended = at_end;
        result
    }
}

impl OutputPipes {
    /// Starts forwarding the pipe `fd` (a child's stdout or stderr) line by line.
    pub fn forward(&mut self, fd: OwnedFd, function: String, sink: LogSink) -> io::Result<()> {
        // Two handles on one open pipe: the tokio one to wait for data, the plain one to
        // read it with a real syscall. `from_owned_fd` makes the shared description
        // non-blocking, so plain reads never block.
        let direct = File::from(fd.try_clone()?);
        let receiver = pipe::Receiver::from_owned_fd(fd)?;
        let pipe = Arc::new(Pipe {
            direct,
            state: Mutex::new(PipeState::default()),
            output: Output {
                function,
                sink,
                request: self.request.clone(),
            },
        });
        tokio::spawn(pump(receiver, pipe.clone()));
        self.pipes.push(pipe);
        Ok(())
    }

    /// Lines read from now on belong to the invocation `request_id` (to none for `None`),
    /// and are also kept in `tail` when given. Call [`OutputPipes::flush`] first when the
    /// previous invocation ends, so that its lines keep its id.
    pub fn set_request(&self, request_id: Option<&str>, tail: Option<LogTail>) {
        self.request.set(request_id, tail);
    }

    /// Returns once every line written before the call has gone to the sink.
    pub async fn flush(&self) {
        for pipe in &self.pipes {
            // A pipe that failed has emitted what it had; its reader task ends too.
            let _ = pipe.drain();
        }
    }
}

/// Reads whatever the pipe holds right now into `pending`; true at end of file.
fn read_available(mut pipe: &File, pending: &mut Vec<u8>) -> io::Result<bool> {
    let mut buffer = [0_u8; 16 * 1024];
    loop {
        match pipe.read(&mut buffer) {
            Ok(0) => return Ok(true),
            Ok(n) => pending.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Where one pipe's lines go.
#[derive(Debug)]
struct Output {
    function: String,
    sink: LogSink,
    request: CurrentRequest,
}

/// Sends the complete lines of `pending` (all of it at end of file) to the sink.
fn emit_lines(pending: &mut Vec<u8>, at_end: bool, output: &Output) {
    let mut start = 0;
    let mut request = None;
    while let Some(offset) = pending[start..].iter().position(|&byte| byte == b'\n') {
        let request = request.get_or_insert_with(|| output.request.get());
        emit(&pending[start..start + offset], output, request.as_ref());
        start += offset + 1;
    }
    pending.drain(..start);
    if (at_end && !pending.is_empty()) || pending.len() > MAX_LINE_BYTES {
        let request = request.get_or_insert_with(|| output.request.get());
        emit(pending, output, request.as_ref());
        pending.clear();
    }
}

fn emit(line: &[u8], output: &Output, request: Option<&Tag>) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    let request_id = request.map(|(request_id, _)| &**request_id);
    output.sink.emit_line(&output.function, request_id, text);
    if let Some((_, Some(tail))) = request {
        tail.push(text);
    }
}

async fn pump(receiver: pipe::Receiver, pipe: Arc<Pipe>) {
    loop {
        if receiver.readable().await.is_err() {
            break;
        }
        let mut ended = false;
        // Reading through `try_io` lets tokio clear its readiness flag when the pipe runs
        // dry, so `readable` waits again instead of spinning.
        let result = receiver.try_io(|| match pipe.drain() {
            Ok(true) => {
                ended = true;
                Ok(())
            }
            Ok(false) => Err(io::ErrorKind::WouldBlock.into()),
            Err(error) => {
                ended = true;
                Err(error)
            }
        });
        if ended || matches!(&result, Err(error) if error.kind() != io::ErrorKind::WouldBlock) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn capture() -> (LogSink, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = lines.clone();
        let sink = LogSink::new(move |_, line| {
            sink_lines.lock().expect("lock").push(line.to_owned());
        });
        (sink, lines)
    }

    fn output(sink: LogSink) -> Output {
        Output {
            function: "F".to_owned(),
            sink,
            request: CurrentRequest::default(),
        }
    }

    #[test]
    fn lines_are_split_and_partial_lines_wait() {
        let (sink, lines) = capture();
        let output = output(sink);
        let mut pending = b"one\r\ntwo\nthr".to_vec();
        emit_lines(&mut pending, false, &output);
        assert_eq!(*lines.lock().expect("lock"), ["one", "two"]);
        assert_eq!(pending, b"thr");
        pending.extend_from_slice(b"ee");
        emit_lines(&mut pending, true, &output);
        assert_eq!(*lines.lock().expect("lock"), ["one", "two", "three"]);
        assert!(pending.is_empty());
    }

    #[test]
    fn lines_carry_the_request_id_of_the_invocation_running() {
        let store = Arc::new(crate::logs::tests::Recorded::default());
        let sink = LogSink::new(|_, _| {}).keeping(store.clone(), "app".to_owned());
        let output = output(sink);
        let mut pending = b"before\n".to_vec();
        emit_lines(&mut pending, false, &output);
        output.request.set(Some("r1"), None);
        pending.extend_from_slice(b"during\nalso during\n");
        emit_lines(&mut pending, false, &output);
        output.request.set(None, None);
        pending.extend_from_slice(b"after");
        emit_lines(&mut pending, true, &output);
        let records = store.records();
        let seen: Vec<(&str, Option<&str>)> = records
            .iter()
            .map(|record| (record.text.as_str(), record.request_id.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("before", None),
                ("during", Some("r1")),
                ("also during", Some("r1")),
                ("after", None)
            ]
        );
        assert!(records
            .iter()
            .all(|record| record.stack == "app" && record.function == "F"));
    }

    #[tokio::test]
    async fn flush_forwards_what_a_process_wrote() {
        let (sink, lines) = capture();
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "echo first; echo second; sleep 5"])
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sh");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut pipes = OutputPipes::default();
        pipes
            .forward(stdout.into_owned_fd().expect("fd"), "F".to_owned(), sink)
            .expect("forward");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while lines.lock().expect("lock").len() < 2 && std::time::Instant::now() < deadline {
            pipes.flush().await;
        }
        assert_eq!(*lines.lock().expect("lock"), ["first", "second"]);
    }
}
