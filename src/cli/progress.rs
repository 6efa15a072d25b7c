//! How release commands show progress on stderr: a live indicatif view on a terminal, the
//! plain lines otherwise, nothing with `--quiet`. Actions report through a `&str` callback
//! (`action::revision::Progress`); the view reads the object lines (`applied`, `ready`,
//! `deleted`) into counts and prints every other line (hooks, steps, notes) above the bar.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Objects seen so far, fed one progress line at a time. No terminal needed, so it is
/// what the unit tests drive.
#[derive(Debug, Default)]
pub struct State {
    /// Applied objects in apply order, with when; the wait clock of each starts there.
    applied: Vec<(String, Instant)>,
    ready: Vec<String>,
    deleted: usize,
    /// Whether the command waits for readiness (`--wait`): only then is anything "waited for".
    wait: bool,
}

impl State {
    pub fn new(wait: bool) -> Self {
        State {
            wait,
            ..State::default()
        }
    }

    /// Takes one line; `false` when it is not an object line and should be shown as is.
    pub fn observe(&mut self, line: &str, now: Instant) -> bool {
        if let Some(obj) = line.strip_prefix("applied ") {
            // A recreated or re-applied object restarts its clock rather than counting twice.
            self.applied.retain(|(o, _)| o != obj);
            self.applied.push((obj.to_string(), now));
            self.ready.retain(|o| o != obj);
        } else if let Some(obj) = line.strip_prefix("ready ") {
            if !self.ready.iter().any(|o| o == obj) {
                self.ready.push(obj.to_string());
            }
        } else if line.starts_with("deleted ") {
            self.deleted += 1;
        } else {
            return false;
        }
        true
    }

    pub fn applied(&self) -> usize {
        self.applied.len()
    }

    /// Applied objects that are ready (objects never applied here are not counted).
    pub fn ready(&self) -> usize {
        self.applied
            .iter()
            .filter(|(o, _)| self.ready.contains(o))
            .count()
    }

    /// The applied object not yet ready that has waited longest, with how long.
    /// Ties go to the first applied, so the answer is stable.
    pub fn slowest(&self, now: Instant) -> Option<(&str, Duration)> {
        if !self.wait {
            return None;
        }
        self.applied
            .iter()
            .filter(|(o, _)| !self.ready.contains(o))
            .min_by_key(|(_, t)| *t)
            .map(|(o, t)| (o.as_str(), now.saturating_duration_since(*t)))
    }

    /// The bar's text: `applied 3, ready 1/3, waiting for Deployment ns/web (12s)`.
    pub fn message(&self, now: Instant) -> String {
        let mut parts = Vec::new();
        if !self.applied.is_empty() {
            parts.push(format!("applied {}", self.applied()));
        }
        if self.wait && !self.applied.is_empty() {
            parts.push(format!("ready {}/{}", self.ready(), self.applied()));
        }
        if self.deleted > 0 {
            parts.push(format!("deleted {}", self.deleted));
        }
        if let Some((obj, d)) = self.slowest(now) {
            parts.push(format!("waiting for {obj} ({}s)", d.as_secs()));
        }
        if parts.is_empty() {
            "working".into()
        } else {
            parts.join(", ")
        }
    }
}

enum Mode {
    Quiet,
    Plain,
    Live {
        bar: ProgressBar,
        state: Arc<Mutex<State>>,
    },
}

/// The stderr reporter for one command; clears its bar when dropped, so an error printed
/// afterwards starts on a clean line.
pub struct View(Mode);

impl View {
    /// `wait`: whether the command waits for readiness. Live only when stderr is a terminal.
    pub fn new(quiet: bool, wait: bool) -> Self {
        if quiet {
            return View(Mode::Quiet);
        }
        if !std::io::stderr().is_terminal() {
            return View(Mode::Plain);
        }
        let state = Arc::new(Mutex::new(State::new(wait)));
        let s = state.clone();
        // Rendered on every tick, so the slowest object's elapsed time keeps moving
        // between progress lines.
        let style = ProgressStyle::with_template("{spinner} {status}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key(
                "status",
                move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let st = s.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = w.write_str(&st.message(Instant::now()));
                },
            );
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        View(Mode::Live { bar, state })
    }

    /// The progress callback.
    pub fn line(&self, line: &str) {
        match &self.0 {
            Mode::Quiet => {}
            Mode::Plain => eprintln!("{line}"),
            Mode::Live { bar, state } => {
                let counted = state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .observe(line, Instant::now());
                if !counted {
                    bar.println(line);
                }
                bar.tick();
            }
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Mode::Live { bar, .. } = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_applied_ready_and_deleted() {
        let t = Instant::now();
        let mut s = State::new(true);
        assert!(s.observe("applied ConfigMap default/a", t));
        assert!(s.observe("applied Deployment default/web", t));
        assert!(s.observe("ready ConfigMap default/a", t));
        assert!(s.observe("deleted Service default/old", t));
        assert!(!s.observe("hook Pod/pre (pre-install)", t));
        assert_eq!((s.applied(), s.ready(), s.deleted), (2, 1, 1));
        assert_eq!(
            s.message(t + Duration::from_secs(7)),
            "applied 2, ready 1/2, deleted 1, waiting for Deployment default/web (7s)"
        );
    }

    #[test]
    fn slowest_is_the_earliest_applied_not_ready() {
        let t = Instant::now();
        let mut s = State::new(true);
        s.observe("applied Deployment default/a", t);
        s.observe("applied Deployment default/b", t + Duration::from_secs(1));
        s.observe("applied Job default/c", t + Duration::from_secs(2));
        let now = t + Duration::from_secs(10);
        assert_eq!(
            s.slowest(now),
            Some(("Deployment default/a", Duration::from_secs(10)))
        );
        s.observe("ready Deployment default/a", now);
        assert_eq!(
            s.slowest(now),
            Some(("Deployment default/b", Duration::from_secs(9)))
        );
        s.observe("ready Deployment default/b", now);
        s.observe("ready Job default/c", now);
        assert_eq!(s.slowest(now), None);
        assert_eq!(s.message(now), "applied 3, ready 3/3");
    }

    #[test]
    fn reapplied_object_counts_once_and_restarts_its_clock() {
        let t = Instant::now();
        let mut s = State::new(true);
        s.observe("applied StatefulSet default/db", t);
        s.observe("ready StatefulSet default/db", t);
        // `--force` recreate: applied again, no longer ready.
        s.observe("applied StatefulSet default/db", t + Duration::from_secs(5));
        assert_eq!((s.applied(), s.ready()), (1, 0));
        assert_eq!(
            s.slowest(t + Duration::from_secs(6)),
            Some(("StatefulSet default/db", Duration::from_secs(1)))
        );
    }

    #[test]
    fn without_wait_nothing_is_waited_for() {
        let t = Instant::now();
        let mut s = State::new(false);
        s.observe("applied Deployment default/web", t);
        assert_eq!(s.slowest(t + Duration::from_secs(60)), None);
        assert_eq!(s.message(t), "applied 1");
        assert_eq!(State::new(false).message(t), "working");
    }
}
