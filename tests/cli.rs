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

/// A small run: a fraction of a second.
const SMALL: [&str; 6] = [
    "--primes-below",
    "20000",
    "--pages",
    "8",
    "--latency-ms",
    "5",
];

#[test]
fn json_has_every_mechanism_with_numeric_wall_times_and_nothing_else_on_stdout() {
    let mut args = SMALL.to_vec();
    args.push("--json");
    let out = concur(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let trimmed = text.trim();
    assert!(trimmed.starts_with('{') && trimmed.ends_with('}'), "{text}");
    assert_eq!(
        trimmed.matches('{').count(),
        trimmed.matches('}').count(),
        "{text}"
    );
    assert!(text.contains("\"primes_below\": 20000"), "{text}");
    assert!(text.contains("\"python\": null"), "{text}");
    for workload in ["cpu", "io"] {
        for mechanism in ["sequential", "event_loop", "thread_pool", "process_pool"] {
            let row = text
                .lines()
                .find(|l| {
                    l.contains(&format!("\"workload\": \"{workload}\""))
                        && l.contains(&format!("\"mechanism\": \"{mechanism}\""))
                })
                .unwrap_or_else(|| panic!("no {workload}/{mechanism} row in:\n{text}"));
            let wall: f64 = row
                .split("\"wall_s\": ")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_else(|| panic!("no numeric wall_s in {row}"));
            assert!(wall > 0.0, "{row}");
        }
    }
    assert!(
        !text.contains("| workload |"),
        "a table in JSON mode:\n{text}"
    );
}

#[test]
fn a_bad_value_is_a_usage_error_naming_the_problem_and_the_fix() {
    for (args, expected) in [
        (
            &["--pages", "0"][..],
            "--pages 0 is out of range: give 1 to 100000 pages",
        ),
        (&["--pages", "100001"][..], "--pages 100001 is out of range"),
        (
            &["--primes-below", "100000000000"][..],
            "--primes-below 100000000000 is out of range",
        ),
        (&["--workers", "0"][..], "--workers 0 is out of range"),
        (&["--latency-ms", "ten"][..], "expects a whole number"),
        (&["--workers"][..], "--workers needs a value"),
        (&["--svg"][..], "--svg needs a file name"),
    ] {
        let out = concur(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(err.contains("(e.g. "), "{args:?}: no fix in {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_explains_every_option() {
    let text = String::from_utf8(concur(&["--help"]).stdout).unwrap();
    for option in [
        "--quick",
        "--json",
        "--pages",
        "--latency-ms",
        "--primes-below",
        "--workers",
        "--svg",
        "--python",
    ] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
}

#[test]
fn svg_writes_a_bar_chart_and_the_table_still_prints() {
    let path = std::env::temp_dir().join(format!("concur-cli-{}.svg", std::process::id()));
    let mut args = SMALL.to_vec();
    args.extend(["--svg", path.to_str().unwrap()]);
    let out = concur(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&path).expect("the chart is written");
    let _ = std::fs::remove_file(&path);
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    assert_eq!(svg.matches("class=\"workload\"").count(), 2, "{svg}");
    assert!(
        svg.contains("process pool") && svg.contains("x</text>"),
        "{svg}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("| io | event loop"), "{text}");
    assert!(text.contains("Real parallelism?"), "{text}");
}

#[test]
fn python_comparison_runs_or_says_why_not() {
    let mut args = SMALL.to_vec();
    args.extend(["--python", "--json"]);
    let out = concur(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let text = String::from_utf8(out.stdout).unwrap();
    let has_python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_python {
        assert!(text.contains("\"version\": "), "{text}\n{err}");
        for mechanism in ["sequential", "event_loop", "thread_pool", "process_pool"] {
            assert!(
                text.matches(&format!("\"mechanism\": \"{mechanism}\""))
                    .count()
                    == 4,
                "{mechanism}: {text}"
            );
        }
    } else {
        assert!(text.contains("\"python\": {\"error\""), "{text}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
