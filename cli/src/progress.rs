//! Progress bars on stderr for `pack` (only when stderr is a terminal), drawn with `indicatif`.

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
use wasivfs_packer::{Event, NoProgress, Progress, Stage};

/// Draws one line on stderr that follows the stages of a pack.
struct Bar {
    bar: ProgressBar,
}

/// The observer to pass to the packer: a progress line when stderr is a terminal and `quiet` is
/// off, nothing otherwise (pipes and logs stay clean).
pub fn for_stderr(quiet: bool) -> Arc<dyn Progress> {
    if quiet || !std::io::stderr().is_terminal() {
        return Arc::new(NoProgress);
    }
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    Arc::new(Bar { bar })
}

fn spinner(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bytes_bar(label: &str) -> ProgressStyle {
    let t = format!("{label:>9} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{msg}}");
    ProgressStyle::with_template(&t)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Progress for Bar {
    fn event(&self, event: Event) {
        match event {
            Event::Start(Stage::Read) => {
                self.bar
                    .set_style(spinner("{spinner} reading the input module"));
            }
            Event::Start(Stage::Walk) => {
                self.bar.set_style(spinner("{spinner}   walking {msg}"));
                self.bar.set_message("");
            }
            Event::Walked { files, bytes } => {
                self.bar
                    .set_message(format!("{files} files, {}", HumanBytes(bytes)));
            }
            Event::Start(Stage::Layout) => {
                self.bar.set_style(spinner("{spinner}    layout {msg}"));
            }
            Event::Start(Stage::Snapshot) => {
                self.bar
                    .set_style(spinner("{spinner}  snapshot of the VFS"));
            }
            Event::Start(Stage::Merge) => {
                self.bar.set_style(bytes_bar("merging"));
                self.bar.set_position(0);
                self.bar.set_message("");
            }
            Event::Content { done, total } | Event::Written { done, total } => {
                self.bar.set_length(total);
                self.bar.set_position(done);
            }
            Event::Start(Stage::Write) => {
                self.bar.set_style(bytes_bar("writing"));
                self.bar.set_position(0);
            }
            Event::Done(Stage::Write, _) => self.bar.finish_and_clear(),
            Event::Done(..) => {}
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        // On an error the line is removed before the message is printed.
        self.bar.finish_and_clear();
    }
}
