//! Expressions in the past for the debugger: `print EXPR` re-executes the
//! recording to the event on screen and evaluates EXPR there, in the
//! sandbox (`rewind_runtime::Runtime::evaluate`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use rewind_debugger::session::Evaluator;
use rewind_format::model::ThreadId;
use rewind_runtime::{Component, Evaluate, RecordingFile, ReplayTimeout, Runtime};

use super::guest;

/// How long the expressions of one `print` may take, once the
/// re-execution has reached their event.
const BUDGET: Duration = Duration::from_secs(10);

/// Evaluates in re-executions of one recording, whose events were traced
/// from `traced_from` (0 for a live trace).
pub struct PastEvaluator {
    path: PathBuf,
    guest: Option<PathBuf>,
    timeout: ReplayTimeout,
    traced_from: u64,
    /// The runtime, the recorded guest and the recording, once loaded.
    loaded: Option<(Runtime, Component, RecordingFile)>,
    /// Answers already given: the past does not change.
    answers: HashMap<(ThreadId, u64, usize, String), Result<String, String>>,
}

impl PastEvaluator {
    pub fn new(
        path: PathBuf,
        guest: Option<PathBuf>,
        timeout: ReplayTimeout,
        traced_from: u64,
    ) -> PastEvaluator {
        PastEvaluator {
            path,
            guest,
            timeout,
            traced_from,
            loaded: None,
            answers: HashMap::new(),
        }
    }

    fn load(&mut self) -> Result<&(Runtime, Component, RecordingFile)> {
        if self.loaded.is_none() {
            let file = RecordingFile::open(&self.path)?;
            let runtime = Runtime::new()?;
            let source = guest::of_recording(&file, self.guest.as_ref())?;
            let component = guest::load(&runtime, &source)?;
            self.loaded = Some((runtime, component, file));
        }
        Ok(self.loaded.as_ref().expect("just loaded"))
    }
}

impl Evaluator for PastEvaluator {
    fn evaluate(
        &mut self,
        thread: ThreadId,
        event: u64,
        depth: usize,
        expression: &str,
    ) -> Result<String, String> {
        let key = (thread, event, depth, expression.to_owned());
        if let Some(answer) = self.answers.get(&key) {
            return answer.clone();
        }
        let (traced_from, timeout) = (self.traced_from, self.timeout);
        let (runtime, component, file) = self
            .load()
            .map_err(|err| format!("cannot evaluate: {err:#}"))?;
        let request = Evaluate {
            thread,
            event,
            traced_from,
            expressions: vec![(depth as u32, expression.to_owned())],
            timeout,
            budget: BUDGET,
        };
        let answer = match runtime.evaluate(component, file, request) {
            Ok(mut results) => results
                .pop()
                .unwrap_or_else(|| Err("the guest gave no result".into())),
            Err(err) => Err(format!("cannot evaluate: {err:#}")),
        };
        self.answers.insert(key, answer.clone());
        answer
    }
}
