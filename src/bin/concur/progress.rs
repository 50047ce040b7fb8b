//! Progress on stderr while the measurements run: one bar over all the steps, with the
//! current step's name and how long it has run, fitted to the terminal's width. When
//! stderr is not a terminal, one plain line per step (`concur: [3/12] cpu: thread pool`),
//! so a redirected run is never silent for long.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The bar, and when the current step started.
pub(crate) struct Progress {
    bar: ProgressBar,
    /// Not a terminal: the step count for plain lines (`None` on a terminal).
    plain: Option<(usize, std::cell::Cell<usize>)>,
    step_started: Arc<Mutex<Instant>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("position", &self.bar.position())
            .finish()
    }
}

impl Progress {
    pub(crate) fn new(steps: usize) -> Self {
        let step_started = Arc::new(Mutex::new(Instant::now()));
        let bar = if std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stderr());
            let started = Arc::clone(&step_started);
            let style =
                ProgressStyle::with_template("{bar:20.cyan/blue} {pos}/{len} {step} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ")
                    .with_key(
                        "step",
                        move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                            let secs = started.lock().map_or(0.0, |t| t.elapsed().as_secs_f64());
                            let _ = write!(w, "{secs:.1} s");
                        },
                    );
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        } else {
            ProgressBar::hidden()
        };
        let plain = (!std::io::stderr().is_terminal()).then(|| (steps, std::cell::Cell::new(0)));
        Progress {
            bar,
            plain,
            step_started,
        }
    }

    /// Starts the next step, named `what`.
    pub(crate) fn step(&self, what: &str) {
        if let Some((steps, done)) = &self.plain {
            done.set(done.get() + 1);
            eprintln!("concur: [{}/{steps}] {what}", done.get());
        }
        if let Ok(mut t) = self.step_started.lock() {
            *t = Instant::now();
        }
        if self.bar.message().is_empty() && self.bar.position() == 0 {
            self.bar.set_message(what.to_owned());
        } else {
            self.bar.inc(1);
            self.bar.set_message(what.to_owned());
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
