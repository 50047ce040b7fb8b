//! The `concur` command: its table, its help and its errors.

use std::process::Command;

fn concur(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_concur"))
        .args(args)
        .output()
        .expect("the concur binary runs")
}

#[test]
fn quick_run_prints_every_mechanism_for_both_workloads() {
    let out = concur(&["--quick"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for workload in ["cpu", "io"] {
        for mechanism in ["sequential", "event loop", "thread pool"] {
            let row = text
                .lines()
                .find(|l| l.starts_with(&format!("| {workload} | {mechanism}")))
                .unwrap_or_else(|| panic!("no {workload}/{mechanism} row in:\n{text}"));
            let speedup: f64 = row
                .trim_end_matches(" |")
                .rsplit("| ")
                .next()
                .and_then(|s| s.trim_end_matches('x').parse().ok())
                .unwrap_or_else(|| panic!("no speed-up in {row}"));
            assert!(speedup > 0.0, "{row}");
        }
    }
}

#[test]
fn help_explains_the_options() {
    let out = concur(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--quick"));
}

#[test]
fn an_unknown_option_is_a_usage_error_with_exit_code_2() {
    let out = concur(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown option '--frobnicate'"), "{err}");
}
