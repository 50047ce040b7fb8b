//! The `concur` command: its table, its help and its errors.

use std::process::Command;

fn concur(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_concur"))
        .args(args)
        .output()
        .expect("the concur binary runs")
}

/// Every mechanism measured for each workload, as the JSON names them.
const ROWS: [(&str, &[&str]); 3] = [
    (
        "cpu",
        &["sequential", "event_loop", "thread_pool", "process_pool"],
    ),
    (
        "io",
        &["sequential", "event_loop", "thread_pool", "process_pool"],
    ),
    (
        "data",
        &[
            "sequential",
            "thread_pool",
            "process_pool",
            "process_pool_shm",
        ],
    ),
];

/// `--quick`, with sizes that keep a debug build's run short.
const QUICK: [&str; 8] = [
    "--quick",
    "--markdown",
    "--data-mib",
    "4",
    "--primes-below",
    "200000",
    "--pages",
    "10",
];

#[test]
fn quick_run_prints_every_mechanism_for_all_three_workloads() {
    let out = concur(&QUICK);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // stderr is not a terminal: one plain line per step, and nothing else.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 12, "{err}");
    assert!(err.lines().all(|l| l.starts_with("concur: [")), "{err}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("| CPU time | CPU use | peak memory | serialized |"),
        "{text}"
    );
    for (workload, mechanisms) in [
        (
            "cpu",
            &["sequential", "event loop", "thread pool", "process pool"][..],
        ),
        (
            "io",
            &["sequential", "event loop", "thread pool", "process pool"][..],
        ),
        (
            "data",
            &[
                "sequential",
                "thread pool",
                "process pool (",
                "process pool (",
            ][..],
        ),
    ] {
        for mechanism in mechanisms {
            let row = text
                .lines()
                .find(|l| l.starts_with(&format!("| {workload} | {mechanism}")))
                .unwrap_or_else(|| panic!("no {workload}/{mechanism} row in:\n{text}"));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let speedup: f64 = cells[4]
                .trim_end_matches('x')
                .parse()
                .unwrap_or_else(|_| panic!("no speed-up in {row}"));
            assert!(speedup > 0.0, "{row}");
            assert!(cells[6].ends_with(" cores"), "{row}");
            assert!(cells[7].ends_with("MiB"), "{row}");
        }
    }
    assert!(text.contains("shared memory |"), "{text}");
    assert!(text.contains("serialized |"), "{text}");
    assert!(
        text.contains("Large data: \"data is serialized\" has a price"),
        "{text}"
    );
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
const SMALL: [&str; 8] = [
    "--primes-below",
    "20000",
    "--pages",
    "8",
    "--latency-ms",
    "5",
    "--data-mib",
    "2",
];

/// The number after `"key": ` in a JSON row line.
fn field(row: &str, key: &str) -> f64 {
    row.split(&format!("\"{key}\": "))
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no numeric {key} in {row}"))
}

/// The raw JSON value after `"key": ` in `line`: an array with its brackets, a string
/// with its quotes, else the token up to the next `,` or `}`.
fn raw<'a>(line: &'a str, key: &str) -> &'a str {
    let at = line
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    let value = &line[at + key.len() + 4..];
    let len = match value.as_bytes().first() {
        Some(b'[') => value.find(']').map(|e| e + 1),
        Some(b'"') => value[1..]
            .char_indices()
            .scan(false, |escaped, (i, c)| {
                let end = c == '"' && !*escaped;
                *escaped = c == '\\' && !*escaped;
                Some((i, end))
            })
            .find(|(_, end)| *end)
            .map(|(i, _)| i + 2),
        _ => value.find([',', '}']),
    };
    &value[..len.unwrap_or_else(|| panic!("{key} never ends in {line}"))]
}

/// A share of time (0 to 1), or `null` where the kernel does not give the figure.
fn assert_share_or_null(line: &str, key: &str) {
    let value = raw(line, key);
    if value != "null" {
        let share = field(line, key);
        assert!((0.0..=1.0).contains(&share), "{key} {share} in {line}");
    }
}

#[test]
fn json_has_every_row_with_wall_cpu_and_memory_and_nothing_else_on_stdout() {
    let mut args = SMALL.to_vec();
    args.push("--json");
    let out = concur(&args);
    // Success implies every pool's large-data checksum agreed with the sequential one.
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
    assert!(text.contains("\"data_mib\": 2"), "{text}");
    assert!(text.contains("\"python\": null"), "{text}");
    let row = |workload: &str, mechanism: &str| {
        text.lines()
            .find(|l| {
                l.contains(&format!("\"workload\": \"{workload}\""))
                    && l.contains(&format!("\"mechanism\": \"{mechanism}\""))
            })
            .unwrap_or_else(|| panic!("no {workload}/{mechanism} row in:\n{text}"))
    };
    for (workload, mechanisms) in ROWS {
        for mechanism in mechanisms {
            let row = row(workload, mechanism);
            assert!(field(row, "wall_s") > 0.0, "{row}");
            // CPU figures are present and not negative; a row of a millisecond can
            // read 0 CPU seconds from getrusage on a busy machine, so no row must be > 0.
            assert!(field(row, "cpu_s") >= 0.0, "{row}");
            assert!(field(row, "cpu_cores") >= 0.0, "{row}");
            // At least the executable's own resident pages.
            assert!(field(row, "peak_memory_bytes") > 1e6, "{row}");
            let serialized = field(row, "serialized_bytes");
            if mechanism.starts_with("process_pool") {
                assert!(serialized > 0.0, "{row}");
            } else {
                assert_eq!(serialized, 0.0, "{row}");
            }
        }
    }
    // How contended the machine was: figures that exist and lie in range, never timings.
    let contention = text
        .lines()
        .find(|l| l.starts_with("  \"contention\": {"))
        .unwrap_or_else(|| panic!("no contention in {text}"));
    let cpus = field(contention, "cpus_available");
    assert!(cpus >= 1.0 && cpus.fract() == 0.0, "{contention}");
    assert_eq!(
        text.lines().find(|l| l.starts_with("  \"cpus\": ")),
        Some(format!("  \"cpus\": {cpus},").as_str())
    );
    // CPU time over wall time: at most the CPUs, give or take the clocks' granularity.
    let obtained = field(contention, "cpus_obtained");
    assert!((0.0..=cpus + 1.0).contains(&obtained), "{contention}");
    assert_share_or_null(contention, "cpu_pressure_share");
    assert_share_or_null(contention, "cpu_steal_share");
    let disturbed_rows = field(contention, "disturbed_rows");
    assert_eq!(
        raw(contention, "contended"),
        if disturbed_rows > 0.0 {
            "true"
        } else {
            "false"
        },
        "{contention}"
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("    {\"workload\": "))
        .collect();
    assert_eq!(rows.len(), 12, "{text}");
    let mut disturbed = 0.0;
    for row in &rows {
        let tries = field(row, "tries");
        assert!(
            (1.0..=3.0).contains(&tries) && tries.fract() == 0.0,
            "{row}"
        );
        let walls: Vec<f64> = raw(row, "tries_wall_s")
            .trim_matches(['[', ']'])
            .split(", ")
            .map(|w| w.parse().unwrap_or_else(|_| panic!("{w:?} in {row}")))
            .collect();
        assert_eq!(walls.len() as f64, tries, "{row}");
        assert!(walls.iter().all(|w| *w > 0.0), "{row}");
        let (best, worst) = (field(row, "best_wall_s"), field(row, "worst_wall_s"));
        let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
        let max = walls.iter().copied().fold(0.0, f64::max);
        assert!(
            (best - min).abs() < 2e-6 && (worst - max).abs() < 2e-6,
            "{row}"
        );
        // The row keeps its best try.
        assert!((field(row, "wall_s") - best).abs() < 2e-6, "{row}");
        let worst_speedup = field(row, "worst_speedup");
        assert!(
            worst_speedup > 0.0 && worst_speedup <= field(row, "speedup") + 0.002,
            "{row}"
        );
        assert!(field(row, "expected_cores") >= 0.0, "{row}");
        assert_share_or_null(row, "cpu_pressure_share");
        assert_share_or_null(row, "cpu_steal_share");
        match raw(row, "disturbed") {
            "true" => {
                disturbed += 1.0;
                assert!(raw(row, "disturbed_reason").len() > 2, "{row}");
            }
            "false" => assert_eq!(raw(row, "disturbed_reason"), "null", "{row}"),
            other => panic!("disturbed is {other} in {row}"),
        }
    }
    assert_eq!(disturbed, disturbed_rows, "{text}");
    // Serialized, the 2 MiB array crossed both ways; in shared memory, descriptors only.
    let by_value = field(row("data", "process_pool"), "serialized_bytes");
    let shared = field(row("data", "process_pool_shm"), "serialized_bytes");
    assert!(by_value >= 2.0 * 2.0 * 1024.0 * 1024.0, "{by_value}");
    assert!(shared * 1000.0 < by_value, "{shared} vs {by_value}");
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
        (
            &["--svg", "/no/such/dir/chart.svg"][..],
            "there is no directory /no/such/dir",
        ),
        (
            &["--data-mib", "0"][..],
            "--data-mib 0 is out of range: give 1 to 4096 MiB",
        ),
        (
            &["--data-mib", "4097"][..],
            "--data-mib 4097 is out of range",
        ),
        (
            &["--data-mib", "lots"][..],
            "--data-mib expects a whole number",
        ),
        (&["--data-mib"][..], "--data-mib needs a value"),
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
        "--data-mib",
    ] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
}

/// Checks that `svg` is well-formed XML as far as a chart needs: every tag closed in
/// order, nothing after the root, and `&` only in entities.
fn assert_well_formed(svg: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find('<') {
        let text = &rest[..at];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "a bare & in {text:?}"
            );
        }
        assert!(
            !open.is_empty() || text.trim().is_empty(),
            "text outside the root: {text:?}"
        );
        let end = rest[at..]
            .find('>')
            .unwrap_or_else(|| panic!("an unclosed tag at {:?}", &rest[at..]));
        let tag = &rest[at + 1..at + end];
        rest = &rest[at + end + 1..];
        assert!(!tag.contains('<'), "a < inside the tag {tag:?}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop(),
                Some(name.trim()),
                "</{name}> closes the wrong tag"
            );
            if open.is_empty() {
                assert!(rest.trim().is_empty(), "after the root: {rest:?}");
            }
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().unwrap_or_default());
        }
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "an unclosed attribute in {tag:?}"
        );
    }
    assert!(open.is_empty(), "never closed: {open:?}");
}

/// The value of attribute `name` in the tag `tag` starts with.
fn svg_attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    tag.split(&format!(" {name}=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
}

fn svg_number(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[test]
fn svg_writes_a_bar_chart_and_the_table_still_prints() {
    let path = std::env::temp_dir().join(format!("concur-cli-{}.svg", std::process::id()));
    let mut args = SMALL.to_vec();
    args.extend(["--markdown", "--svg", path.to_str().unwrap()]);
    let out = concur(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&path).expect("the chart is written");
    let _ = std::fs::remove_file(&path);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    assert_well_formed(&svg);
    let width = svg_number(svg_attr(&svg, "width"));
    assert!((1000.0..=1400.0).contains(&width), "{width}");
    assert!(svg.contains("Large data: 2 MiB of f64"), "{svg}");

    // One axis, its ticks read off: (value, pixel row), from the bottom up.
    let ticks: Vec<(f64, f64)> = svg
        .split("<g class=\"tick\">")
        .skip(1)
        .map(|t| {
            let label = t
                .split("</text>")
                .next()
                .unwrap()
                .rsplit('>')
                .next()
                .unwrap();
            let value = svg_number(label.strip_suffix('x').expect("a tick in x"));
            (value, svg_number(svg_attr(t, "y1")))
        })
        .collect();
    assert!(ticks.len() >= 3, "{ticks:?}");
    assert!(ticks.iter().any(|t| t.0 == 1.0), "no 1x tick: {ticks:?}");
    assert!(
        ticks.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 < w[0].1),
        "ticks not rising: {ticks:?}"
    );
    let (low, high) = (ticks[0], ticks[ticks.len() - 1]);
    // Where speed-up `v` must be on a log axis through the first and last tick.
    let y_of = |v: f64| low.1 - (v / low.0).ln() / (high.0 / low.0).ln() * (low.1 - high.1);
    for &(value, y) in &ticks {
        assert!(
            (y_of(value) - y).abs() < 0.05,
            "tick {value}x at {y}: {ticks:?}"
        );
    }

    let panels: Vec<&str> = svg.split("<g class=\"workload\"").skip(1).collect();
    assert_eq!(panels.len(), 3, "{svg}");
    let mut colours: Vec<(&str, &str)> = Vec::new();
    for ((workload, mechanisms), panel) in ROWS.iter().zip(&panels) {
        assert!(panel.starts_with(&format!(" id=\"{workload}\"")), "{panel}");
        assert!(panel.contains("class=\"one\""), "no 1x line in {panel}");
        assert!(
            panel.matches("<text class=\"value\"").count() >= mechanisms.len(),
            "no value labels in {panel}"
        );
        for mechanism in *mechanisms {
            let at = panel
                .find(&format!("<rect class=\"bar concur {mechanism}\""))
                .unwrap_or_else(|| panic!("no {workload} {mechanism} bar in {panel}"));
            let bar = &panel[at..];
            // The mechanism's one colour, the same in every panel.
            let fill = svg_attr(bar, "fill");
            match colours.iter().find(|c| c.0 == *mechanism) {
                Some(c) => assert_eq!(c.1, fill, "{mechanism} in {workload}"),
                None => colours.push((mechanism, fill)),
            }
            // The bar's top where its speed-up is on the log axis; its foot on the floor.
            let title = bar.split("<title>").nth(1).unwrap();
            let speedup = svg_number(
                title
                    .split(": ")
                    .nth(1)
                    .and_then(|s| s.split('x').next())
                    .unwrap(),
            );
            let (y, h) = (
                svg_number(svg_attr(bar, "y")),
                svg_number(svg_attr(bar, "height")),
            );
            assert!(
                (y - y_of(speedup)).abs() < 0.5,
                "{workload} {mechanism}: {speedup}x at {y}, the axis puts it at {}",
                y_of(speedup)
            );
            assert!(
                (y + h - low.1).abs() < 0.05,
                "{workload} {mechanism}: {bar}"
            );
        }
    }
    assert_eq!(colours.len(), 5, "{colours:?}");
    let mut distinct: Vec<&str> = colours.iter().map(|c| c.1).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        5,
        "two mechanisms share a colour: {colours:?}"
    );
    for (_, colour) in &colours {
        assert!(
            svg.split("<g class=\"legend\">")
                .nth(1)
                .unwrap()
                .contains(colour),
            "{colour} missing from the legend"
        );
    }
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
        // Each mechanism as often in CPython's rows as in concur's.
        for mechanism in [
            "sequential",
            "event_loop",
            "thread_pool",
            "process_pool",
            "process_pool_shm",
        ] {
            let rust = ROWS
                .iter()
                .filter(|(_, ms)| ms.contains(&mechanism))
                .count();
            assert_eq!(
                text.matches(&format!("\"mechanism\": \"{mechanism}\""))
                    .count(),
                2 * rust,
                "{mechanism}: {text}"
            );
        }
        // The same numbers to the bit: CPython's checksum is concur's.
        let ours = text
            .lines()
            .find(|l| l.starts_with("  \"data_checksum\": "))
            .and_then(|l| l.split(": ").nth(1))
            .map(|s| s.trim_end_matches(','))
            .unwrap_or_else(|| panic!("no data_checksum in {text}"));
        assert!(
            text.contains(&format!("\"data_checksum\": {ours}, \"rows\"")),
            "{text}"
        );
    } else {
        assert!(text.contains("\"python\": {\"error\""), "{text}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// A program whose loop serves its task dump, run by `concur_ps_*` in a child process:
/// it says "ready" on stdout, then waits for its stdin to close.
#[test]
#[ignore = "a child process of concur_ps_prints_the_task_dump_of_a_running_program"]
fn serve_task_dumps_probe() {
    use concur::aio;
    aio::run(async {
        let _server = aio::serve_task_dumps().unwrap();
        let _idle = aio::Builder::new()
            .name("waiting-for-orders")
            .spawn(std::future::pending::<()>());
        println!("ready");
        aio::to_thread(|| std::io::read_to_string(std::io::stdin()))
            .await
            .unwrap()
            .unwrap();
    });
}

/// Starts the probe above; returns it once it serves, with its stdout (kept open: the
/// test harness in it writes there to the end).
fn start_dump_server() -> (std::process::Child, impl std::io::Read) {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "serve_task_dumps_probe",
            "--ignored",
            "--nocapture",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the probe ended early"
        );
    }
    (child, out)
}

/// Ends the probe (closes its stdin) and checks that it ended well.
fn stop_dump_server(mut child: std::process::Child, mut out: impl std::io::Read) {
    drop(child.stdin.take());
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}: {rest}");
}

#[test]
fn concur_ps_prints_the_task_dump_of_a_running_program() {
    let (child, probe_out) = start_dump_server();
    let out = concur(&["ps", &child.id().to_string()]);
    stop_dump_server(child, probe_out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("\"waiting-for-orders\": pending"),
        "{stdout}"
    );
    assert!(stdout.contains("\"concur-task-dumps\""), "{stdout}");
}

#[test]
fn concur_ps_of_a_program_that_serves_no_dump_says_why() {
    // This test's own process serves none.
    let out = concur(&["ps", &std::process::id().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("serve_task_dumps"), "{stderr}");
    let bad = concur(&["ps", "zero"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ps expects a whole number"));
}

#[test]
fn a_task_dump_is_refused_to_another_user() {
    use std::os::unix::process::CommandExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to run the reader as another user");
        return;
    }
    let (child, probe_out) = start_dump_server();
    let out = Command::new(env!("CARGO_BIN_EXE_concur"))
        .args(["ps", &child.id().to_string()])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    stop_dump_server(child, probe_out);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "nothing of the dump reached another user"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("serves only its own user"));
}
