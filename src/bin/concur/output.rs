//! What the command prints or writes: the tables, the JSON object, the SVG chart.

use std::fmt::Write as _;

use crate::python::Outcome;
use crate::{Report, Row, PAGE_BYTES};

const MECHANISMS: [&str; 4] = ["sequential", "event_loop", "thread_pool", "process_pool"];
const DATA_MECHANISMS: [&str; 4] = [
    "sequential",
    "thread_pool",
    "process_pool",
    "process_pool_shm",
];
const WORKLOADS: [&str; 3] = ["cpu", "io", "data"];

/// The mechanisms measured for `workload`, in the order they run.
fn mechanisms(workload: &str) -> &'static [&'static str; 4] {
    if workload == "data" {
        &DATA_MECHANISMS
    } else {
        &MECHANISMS
    }
}

fn workload_name(workload: &str) -> &'static str {
    match workload {
        "cpu" => "CPU-bound",
        "io" => "I/O-bound",
        _ => "Large data",
    }
}

fn mechanism_name(mechanism: &str) -> &'static str {
    match mechanism {
        "sequential" => "sequential",
        "event_loop" => "event loop",
        "thread_pool" => "thread pool",
        "process_pool_shm" => "process pool, shared memory",
        _ => "process pool",
    }
}

/// `bytes` for a person: B, KiB, MiB or GiB.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// CPU time over wall time: how many cores the run kept busy on average.
fn cores(r: &Row) -> f64 {
    r.cpu.as_secs_f64() / r.wall.as_secs_f64().max(1e-9)
}

fn row<'a>(report: &'a Report, workload: &str, mechanism: &str) -> Option<&'a Row> {
    report
        .rows
        .iter()
        .find(|r| r.workload == workload && r.mechanism == mechanism)
}

fn speedup(report: &Report, workload: &str, mechanism: &str) -> f64 {
    row(report, workload, mechanism).map_or(0.0, |r| Report::speedup(&report.rows, r))
}

fn python_speedup(report: &Report, workload: &str, mechanism: &str) -> Option<f64> {
    let r = report.python.row(workload, mechanism)?;
    report.python.speedup(r)
}

/// The large-data rows' figures: (serialized row, shared-memory row), when measured.
fn data_rows(report: &Report) -> Option<(&Row, &Row)> {
    Some((
        row(report, "data", "process_pool")?,
        row(report, "data", "process_pool_shm")?,
    ))
}

/// The measurements as a table, then the cheat sheet's two tables filled in from them.
pub(crate) fn tables(report: &Report) -> String {
    let s = &report.sizes;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CPU-bound: count primes below {}; I/O-bound: download {} pages of 16 KiB, {} ms latency each;\n\
         large data: transform {} MiB of f64 (twice a degree-15 polynomial per element)\n",
        s.primes_below,
        s.pages,
        s.latency.as_millis(),
        s.data_mib
    );
    let with_python = matches!(report.python, Outcome::Measured { .. });
    out.push_str(
        "| workload | mechanism | wall time | speed-up | CPU time | CPU use | peak memory | serialized |",
    );
    if let Outcome::Measured { version, .. } = &report.python {
        let _ = writeln!(out, " CPython {version} wall time | CPython speed-up |");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    } else {
        out.push_str("\n|---|---|---:|---:|---:|---:|---:|---:|\n");
    }
    for r in &report.rows {
        let _ = write!(
            out,
            "| {} | {} | {} | {:.1}x | {:.3} s | {:.1} cores | {} | {} |",
            r.workload,
            r.label,
            wall_cell(r),
            Report::speedup(&report.rows, r),
            r.cpu.as_secs_f64(),
            cores(r),
            size(r.peak_bytes),
            size(r.serialized_bytes),
        );
        if with_python {
            match report.python.row(r.workload, r.mechanism) {
                Some(p) => {
                    let sp = report.python.speedup(p).unwrap_or(0.0);
                    let _ = write!(out, " {:.3} s | {sp:.1}x |", p.wall.as_secs_f64());
                }
                None => out.push_str(" - | - |"),
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&machine_note(report));
    out.push_str(&conclusions(report));
    let _ = writeln!(
        out,
        "CPU time counts every thread and worker process of the run (the local page server's\n\
         thread excepted); CPU use is CPU time over wall time; peak memory is the most resident\n\
         memory of this process plus its workers, sampled every 2 ms."
    );
    if let Some((ser, shm)) = data_rows(report) {
        let _ = writeln!(
            out,
            "\nLarge data: \"data is serialized\" has a price. Sent as Vec<f64>, the {} MiB array\n\
             crossed to the workers and back as {} of messages: {:.3} s, {} at the peak.\n\
             In shared memory (SharedBuffer) only descriptors crossed ({}): {:.3} s, {} at the\n\
             peak, {:.1}x faster. Threads need neither: they transform slices of one array in place.",
            report.sizes.data_mib,
            size(ser.serialized_bytes),
            ser.wall.as_secs_f64(),
            size(ser.peak_bytes),
            size(shm.serialized_bytes),
            shm.wall.as_secs_f64(),
            size(shm.peak_bytes),
            ser.wall.as_secs_f64() / shm.wall.as_secs_f64().max(1e-9)
        );
    }
    if let Outcome::Measured { data_checksum, .. } = &report.python {
        let agree = data_checksum.map(f64::to_bits) == Some(report.data_checksum.to_bits());
        let _ = writeln!(
            out,
            "\nCPython's large-data result {} concur's (checksum {:e}{}).",
            if agree { "matches" } else { "differs from" },
            report.data_checksum,
            match data_checksum {
                Some(c) if !agree => format!(", CPython's {c:e}"),
                _ => String::new(),
            }
        );
    }
    out.push_str(&cheat_sheet(report));
    out
}

/// A row's wall time, with the spread of its tries when it was measured more than once.
fn wall_cell(r: &Row) -> String {
    if r.tries.len() > 1 {
        let worst = r.tries.iter().copied().fold(0.0, f64::max);
        format!(
            "{:.3} s (best of {}, worst {worst:.3} s)",
            r.wall.as_secs_f64(),
            r.tries.len()
        )
    } else {
        format!("{:.3} s", r.wall.as_secs_f64())
    }
}

/// Whether other work on the machine disturbed the CPU-bound rows, and what it did to
/// each: every sentence from the rows' own figures.
pub(crate) fn machine_note(report: &Report) -> String {
    let mut out = String::new();
    let disturbed: Vec<(&Row, String)> = report
        .rows
        .iter()
        .filter_map(|r| r.disturbed().map(|why| (r, why)))
        .collect();
    let retried = report.rows.iter().filter(|r| r.tries.len() > 1).count();
    if disturbed.is_empty() {
        let _ = writeln!(
            out,
            "The machine ({} CPUs) was not contended: every CPU-bound row got the cores it could use, and no task waited long for a CPU{}.",
            report.cpus,
            if retried > 0 {
                format!(" (after {retried} row(s) were measured again)")
            } else {
                String::new()
            }
        );
        return out;
    }
    let _ = writeln!(
        out,
        "The machine ({} CPUs) was CONTENDED: other work held CPUs during the run, so these rows\n\
         are slower than on an idle machine (each kept at its best of up to {} tries):",
        report.cpus,
        crate::TRIES
    );
    for (r, why) in disturbed {
        let _ = writeln!(
            out,
            "  - {} {} (best of {} tries): {why}.",
            r.workload,
            r.label,
            r.tries.len()
        );
    }
    out
}

/// Why the speed-up of `mechanism` on `workload` cannot be trusted, if it cannot: its own
/// row or the sequential baseline it is divided by was disturbed.
fn untrusted(report: &Report, workload: &str, mechanism: &str) -> Option<String> {
    let own = row(report, workload, mechanism).and_then(Row::disturbed);
    let base = row(report, workload, "sequential")
        .filter(|_| mechanism != "sequential")
        .and_then(Row::disturbed)
        .map(|why| format!("the sequential baseline was disturbed: {why}"));
    match (own, base) {
        (None, None) => None,
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(b),
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
    }
}

/// The conclusions about computing in parallel, from the CPU-bound rows.
fn conclusions(report: &Report) -> String {
    let mut out = String::new();
    if let Some(r) = row(report, "cpu", "event_loop") {
        let sp = Report::speedup(&report.rows, r);
        let io = speedup(report, "io", "event_loop");
        let sentence = match untrusted(report, "cpu", "event_loop") {
            Some(why) => format!(
                "The event loop's {sp:.1}x on CPU-bound work says little ({why}); it ran on one thread, {:.1} cores busy: it overlaps waiting (I/O-bound {io:.1}x), not computing.",
                r.cores()
            ),
            None => format!(
                "The event loop ran the CPU-bound work at {sp:.1}x on one thread: it overlaps waiting (I/O-bound {io:.1}x), not computing."
            ),
        };
        let _ = writeln!(out, "{sentence}");
    }
    for (m, name) in [
        ("thread_pool", "thread pool"),
        ("process_pool", "process pool"),
    ] {
        let Some(r) = row(report, "cpu", m) else {
            continue;
        };
        let sp = Report::speedup(&report.rows, r);
        let usable = r.expected_cores;
        let sentence = if let Some(why) = untrusted(report, "cpu", m).filter(|_| usable >= 2.0) {
            format!(
                "The {name}'s {sp:.1}x on CPU-bound work says little: the machine was contended ({why}); it kept {:.1} cores busy; on {usable:.0} free cores expect up to {usable:.0}x.",
                r.cores()
            )
        } else if sp >= 1.5 {
            format!(
                "The {name} ran CPU-bound work in parallel: {sp:.1}x, {:.1} cores busy of {usable:.0} usable{}.",
                r.cores(),
                if m == "thread_pool" { " (no GIL in Rust)" } else { ", after starting its workers (timed, with their shutdown)" }
            )
        } else if usable < 2.0 {
            format!("The {name} had {usable:.0} usable core(s): {sp:.1}x, no parallel gain was possible here.")
        } else if let Some(why) = r.disturbed() {
            format!(
                "The {name}'s {sp:.1}x on CPU-bound work says little: the machine was contended ({why}); on {usable:.0} free cores expect up to {usable:.0}x."
            )
        } else if r.cores() >= 1.5 && sp < 0.75 * r.cores() {
            format!(
                "The {name} kept {:.1} cores busy for only {sp:.1}x: these CPUs do not give a core's worth each (hyperthreads sharing a core?).",
                r.cores()
            )
        } else {
            format!(
                "The {name} gained only {sp:.1}x on CPU-bound work with {:.1} cores busy.",
                r.cores()
            )
        };
        let _ = writeln!(out, "{sentence}");
    }
    out
}

/// The "Real parallelism?" cell of one of concur's mechanisms, from its CPU-bound row.
fn parallelism_measured(report: &Report, mechanism: &str, workers: usize) -> String {
    let Some(r) = row(report, "cpu", mechanism) else {
        return "-".into();
    };
    let sp = Report::speedup(&report.rows, r);
    if workers == 0 {
        if untrusted(report, "cpu", mechanism).is_some() {
            return format!(
                "No, one thread ({:.1} cores busy; {sp:.1}x, contended)",
                r.cores()
            );
        }
        return parallelism(sp, 0, report.cpus);
    }
    if r.expected_cores >= 2.0 && untrusted(report, "cpu", mechanism).is_some() {
        format!(
            "Cannot tell: machine contended ({sp:.1}x with {:.1} cores)",
            r.cores()
        )
    } else if sp >= 1.5 {
        format!("Yes ({sp:.1}x on CPU-bound work)")
    } else if r.expected_cores < 2.0 {
        format!(
            "Cannot tell with {:.0} usable core(s) ({sp:.1}x)",
            r.expected_cores
        )
    } else if r.disturbed().is_some() {
        format!(
            "Cannot tell: machine contended ({sp:.1}x with {:.1} cores)",
            r.cores()
        )
    } else if r.cores() >= 1.5 && sp < 0.75 * r.cores() {
        format!("Yes, {:.1} cores busy, but only {sp:.1}x", r.cores())
    } else {
        format!("No ({sp:.1}x on CPU-bound work)")
    }
}

/// What the measurements say about using `mechanism` for `workload`.
fn verdict(report: &Report, workload: &str, mechanism: &str) -> String {
    let s = speedup(report, workload, mechanism);
    let (winner, best) = mechanisms(workload)
        .iter()
        .map(|m| (*m, speedup(report, workload, m)))
        .fold(("sequential", 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let name = workload_name(workload);
    let contended = untrusted(report, workload, mechanism).is_some();
    let verdict = verdict_of(name, s, winner == mechanism, winner, best);
    if contended {
        format!("{verdict}, contended")
    } else {
        verdict
    }
}

/// What a mechanism's speed-up `s` on a workload says, beside the best one (`winner`'s
/// `best`); `is_winner` for the winner itself. Only the winner is "the fastest":
/// one within 10% of it is "about as fast", and says which was faster, so two rows never
/// both claim first place with different figures.
fn verdict_of(name: &str, s: f64, is_winner: bool, winner: &str, best: f64) -> String {
    if s < 0.9 {
        format!("{name}: slower ({s:.1}x)")
    } else if s < 1.2 {
        format!("{name}: no gain ({s:.1}x)")
    } else if is_winner {
        format!("{name}: the fastest ({s:.1}x)")
    } else if s >= best * 0.9 {
        format!(
            "{name}: about as fast ({s:.1}x; {} {best:.1}x)",
            mechanism_name(winner)
        )
    } else if s >= 1.5 {
        format!(
            "{name}: helps ({s:.1}x; {} {best:.1}x)",
            mechanism_name(winner)
        )
    } else {
        format!(
            "{name}: a little ({s:.1}x; {} {best:.1}x)",
            mechanism_name(winner)
        )
    }
}

fn parallelism(speedup: f64, workers: usize, cpus: usize) -> String {
    if workers == 0 {
        // The event loop: one thread by design.
        return if speedup >= 1.5 {
            format!("Yes?! ({speedup:.1}x on CPU-bound work)")
        } else {
            format!("No, one thread ({speedup:.1}x on CPU-bound work)")
        };
    }
    if speedup >= 1.5 {
        format!("Yes ({speedup:.1}x on CPU-bound work)")
    } else if workers.min(cpus) < 2 {
        format!("Cannot tell with {workers} worker(s) on {cpus} CPU(s) ({speedup:.1}x)")
    } else {
        format!("No ({speedup:.1}x on CPU-bound work)")
    }
}

/// The cheat sheet's two tables, regenerated from the measurements.
fn cheat_sheet(report: &Report) -> String {
    let (w, cpus) = (report.sizes.workers, report.cpus);
    let when = |m: &str| {
        WORKLOADS
            .iter()
            .filter(|wl| row(report, wl, m).is_some())
            .map(|wl| verdict(report, wl, m))
            .collect::<Vec<_>>()
            .join("; ")
    };
    // The process pool's large-data verdict: serialized, then in shared memory.
    let data_note = |with_speedup: bool| match data_rows(report) {
        Some((ser, shm)) => {
            let (a, b) = (
                Report::speedup(&report.rows, ser),
                Report::speedup(&report.rows, shm),
            );
            if with_speedup {
                format!(
                    " A {} MiB array: {} serialized, {a:.1}x; in shared memory {b:.1}x.",
                    report.sizes.data_mib,
                    size(ser.serialized_bytes)
                )
            } else {
                format!(
                    " (measured: {} serialized for a {} MiB array, {:.1}x slower than a SharedBuffer)",
                    size(ser.serialized_bytes),
                    report.sizes.data_mib,
                    ser.wall.as_secs_f64() / shm.wall.as_secs_f64().max(1e-9)
                )
            }
        }
        None => String::new(),
    };
    let mut out = String::from("\n## Overview (measured)\n\n");
    out.push_str(
        "| Mechanism | How it works | When to use it (measured speed-up) |\n|---|---|---|\n",
    );
    let _ = writeln!(
        out,
        "| `concur::aio` (async/await) | One thread (event loop). Tasks yield control to one another. | {} |",
        when("event_loop")
    );
    let _ = writeln!(
        out,
        "| ThreadPoolExecutor | Several threads in one process, shared memory, no GIL. | {} |",
        when("thread_pool")
    );
    let _ = writeln!(
        out,
        "| ProcessPoolExecutor | Several processes; data is serialized (postcard){}. | {}; with shared memory: {} |",
        data_note(false),
        when("process_pool"),
        when("process_pool_shm")
    );

    out.push_str("\n## Differences in parallelism (measured)\n\n");
    let python = match &report.python {
        Outcome::Measured { version, .. } => Some(version.as_str()),
        _ => None,
    };
    match python {
        Some(v) => {
            let _ = writeln!(
                out,
                "| Mechanism | Real parallelism? | Notes | CPython {v}: real parallelism? |\n|---|---|---|---|"
            );
        }
        None => out.push_str("| Mechanism | Real parallelism? | Notes |\n|---|---|---|\n"),
    }
    let entries = [
        (
            "async",
            "event_loop",
            0,
            "One thread: overlaps waiting, not computing.",
        ),
        (
            "ThreadPool",
            "thread_pool",
            w,
            "Threads share memory; no GIL in Rust.",
        ),
        (
            "ProcessPool",
            "process_pool",
            w,
            "Separate processes; pays to start them and to serialize.",
        ),
    ];
    for (name, m, workers, note) in entries {
        let io = speedup(report, "io", m);
        let data = if m == "process_pool" {
            data_note(true)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "| {name} | {} | {note} I/O-bound {io:.1}x.{data} |",
            parallelism_measured(report, m, workers)
        );
        if python.is_some() {
            match python_speedup(report, "cpu", m) {
                Some(s) => {
                    let _ = write!(out, " {} |", parallelism(s, workers, cpus));
                }
                None => out.push_str(" - |"),
            }
        }
        out.push('\n');
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A share (0 to 1) in JSON, `null` when it was not measured.
fn json_share(share: Option<f64>) -> String {
    share.map_or("null".into(), |v| format!("{v:.4}"))
}

/// The average of the rows' `figure` weighted by their wall time, over the rows where it
/// was measured; `None` where no row has it.
fn wall_weighted(rows: &[Row], figure: impl Fn(&Row) -> Option<f64>) -> Option<f64> {
    let (mut sum, mut wall) = (0.0, 0.0);
    for r in rows {
        if let Some(v) = figure(r) {
            sum += v * r.wall.as_secs_f64();
            wall += r.wall.as_secs_f64();
        }
    }
    (wall > 0.0).then(|| sum / wall)
}

/// How much of the machine the run had, as the `contention` object of [`json`]:
/// - `cpus_available`: the CPUs this process may run on;
/// - `cpus_obtained`: the most CPUs a CPU-bound row kept busy on average (its CPU time
///   over its wall time): what the run actually had at best;
/// - `cpu_pressure_share`: the share of the wall time some task waited for a CPU
///   (`/proc/pressure/cpu`), `cpu_steal_share`: the share of the CPU time a hypervisor
///   stole (`/proc/stat`), both over the rows' kept tries weighted by their wall time,
///   `null` where the kernel does not say;
/// - `contended`: whether any row was disturbed, and `disturbed_rows`, how many.
fn json_contention(report: &Report) -> String {
    let obtained = report
        .rows
        .iter()
        .filter(|r| r.expected_cores > 0.0)
        .map(Row::cores)
        .fold(None, |max: Option<f64>, c| {
            Some(max.map_or(c, |m| m.max(c)))
        });
    let disturbed = report
        .rows
        .iter()
        .filter(|r| r.disturbed().is_some())
        .count();
    format!(
        "{{\"cpus_available\": {}, \"cpus_obtained\": {}, \"cpu_pressure_share\": {}, \"cpu_steal_share\": {}, \"contended\": {}, \"disturbed_rows\": {disturbed}}}",
        report.cpus,
        obtained.map_or("null".into(), |c| format!("{c:.3}")),
        json_share(wall_weighted(&report.rows, |r| r.load.pressure)),
        json_share(wall_weighted(&report.rows, |r| r.load.steal)),
        disturbed > 0
    )
}

/// The measurements as one JSON object: the sizes, `cpus` (the CPUs available), the
/// `contention` the run met ([`json_contention`]), the large-data checksum, one object
/// per row and CPython's rows. A row carries, besides its figures, every try's wall time
/// (`tries_wall_s`: a disturbed row runs again and its best try is kept), the best and
/// the worst, the worst try's speed-up, the cores it could use (`expected_cores`), the
/// CPU pressure and steal over its kept try, and whether other work disturbed it (with
/// why, `disturbed_reason`).
pub(crate) fn json(report: &Report) -> String {
    let s = &report.sizes;
    let mut out = String::from("{\n");
    let _ = writeln!(
        out,
        "  \"sizes\": {{\"primes_below\": {}, \"pages\": {}, \"page_bytes\": {PAGE_BYTES}, \"latency_ms\": {}, \"workers\": {}, \"data_mib\": {}}},",
        s.primes_below,
        s.pages,
        s.latency.as_millis(),
        s.workers,
        s.data_mib
    );
    let _ = writeln!(out, "  \"cpus\": {},", report.cpus);
    let _ = writeln!(out, "  \"contention\": {},", json_contention(report));
    let _ = writeln!(out, "  \"data_checksum\": {:e},", report.data_checksum);
    out.push_str("  \"rows\": [\n");
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|r| {
            let wall = r.wall.as_secs_f64();
            let tries: Vec<f64> = if r.tries.is_empty() {
                vec![wall]
            } else {
                r.tries.clone()
            };
            let best = tries.iter().copied().fold(f64::INFINITY, f64::min);
            let worst = tries.iter().copied().fold(0.0, f64::max);
            let speedup = Report::speedup(&report.rows, r);
            let disturbed = r.disturbed();
            format!(
                "    {{\"workload\": {}, \"mechanism\": {}, \"label\": {}, \"wall_s\": {wall:.6}, \"speedup\": {speedup:.3}, \"cpu_s\": {:.6}, \"cpu_cores\": {:.3}, \"peak_memory_bytes\": {}, \"serialized_bytes\": {}, \"tries\": {}, \"tries_wall_s\": [{}], \"best_wall_s\": {best:.6}, \"worst_wall_s\": {worst:.6}, \"worst_speedup\": {:.3}, \"expected_cores\": {:.1}, \"cpu_pressure_share\": {}, \"cpu_steal_share\": {}, \"disturbed\": {}, \"disturbed_reason\": {}}}",
                json_string(r.workload),
                json_string(r.mechanism),
                json_string(&r.label),
                r.cpu.as_secs_f64(),
                cores(r),
                r.peak_bytes,
                r.serialized_bytes,
                tries.len(),
                tries
                    .iter()
                    .map(|t| format!("{t:.6}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                // The sequential baseline is the best try of its row.
                speedup * wall / worst.max(1e-9),
                r.expected_cores,
                json_share(r.load.pressure),
                json_share(r.load.steal),
                disturbed.is_some(),
                disturbed.map_or("null".into(), |why| json_string(&why))
            )
        })
        .collect();
    out.push_str(&rows.join(",\n"));
    out.push_str("\n  ],\n  \"python\": ");
    match &report.python {
        Outcome::NotRequested => out.push_str("null"),
        Outcome::Unavailable(why) | Outcome::Failed(why) => {
            let _ = write!(out, "{{\"error\": {}}}", json_string(why));
        }
        Outcome::Measured {
            version,
            rows,
            data_checksum,
        } => {
            let _ = writeln!(
                out,
                "{{\"version\": {}, \"data_checksum\": {}, \"rows\": [",
                json_string(version),
                data_checksum.map_or("null".into(), |c| format!("{c:e}"))
            );
            let rows: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "    {{\"workload\": {}, \"mechanism\": {}, \"wall_s\": {:.6}, \"speedup\": {:.3}}}",
                        json_string(&r.workload),
                        json_string(&r.mechanism),
                        r.wall.as_secs_f64(),
                        report.python.speedup(r).unwrap_or(0.0)
                    )
                })
                .collect();
            out.push_str(&rows.join(",\n"));
            out.push_str("\n  ]}");
        }
    }
    out.push_str("\n}\n");
    out
}

/// `s` as SVG text or attribute content.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The label under a bar, one or two lines.
fn bar_label(workload: &str, mechanism: &str) -> [&'static str; 2] {
    match (workload, mechanism) {
        ("data", "process_pool") => ["process pool", "serialized"],
        ("data", "process_pool_shm") => ["process pool", "shared memory"],
        (_, m) => [mechanism_name(m), ""],
    }
}

/// Every mechanism the chart shows, in legend order.
const CHART_MECHANISMS: [&str; 5] = [
    "sequential",
    "event_loop",
    "thread_pool",
    "process_pool",
    "process_pool_shm",
];

/// The one colour of `mechanism` in every panel of the chart (Okabe-Ito, readable by
/// the colour-blind).
fn mechanism_colour(mechanism: &str) -> &'static str {
    match mechanism {
        "sequential" => "#7a7a7a",
        "event_loop" => "#e69f00",
        "thread_pool" => "#0072b2",
        "process_pool" => "#009e73",
        _ => "#cc79a7",
    }
}

/// `hex` (`#rrggbb`) mixed with white: `share` of white, 0 to 1.
fn lighter(hex: &str, share: f64) -> String {
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * share).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(channel(1)),
        mix(channel(3)),
        mix(channel(5))
    )
}

/// A speed-up as the chart writes it: one decimal below 100x, none above.
/// `v` to four significant digits (a bar's tooltip: precise enough to place it on the
/// log axis within a tenth of a pixel, whatever its size).
fn four_digits(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    format!("{v:.decimals$}")
}

fn speedup_text(speedup: f64) -> String {
    if speedup >= 99.95 {
        format!("{speedup:.0}x")
    } else {
        format!("{speedup:.1}x")
    }
}

/// A tick of the log axis: `mantissa` (1, 2 or 5) times ten to `exponent`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tick {
    mantissa: u32,
    exponent: i32,
}

impl Tick {
    /// The speed-up at the tick.
    fn value(self) -> f64 {
        f64::from(self.mantissa) * 10f64.powi(self.exponent)
    }

    /// The tick's label, written exactly (`0.05x`, `1x`, `200x`), without float noise.
    fn label(self) -> String {
        if self.exponent >= 0 {
            format!(
                "{}x",
                u64::from(self.mantissa) * 10u64.pow(self.exponent as u32)
            )
        } else {
            let zeros = "0".repeat((-self.exponent - 1) as usize);
            format!("0.{zeros}{}x", self.mantissa)
        }
    }
}

/// The y axis shared by every panel: logarithmic, from the tick below the smallest value
/// (so that the shortest bar still shows) to the tick at or above the largest.
#[derive(Debug, Clone)]
struct LogAxis {
    /// The labelled ticks, from the bottom up.
    ticks: Vec<Tick>,
    /// The axis' ends, in speed-up.
    low: f64,
    high: f64,
    /// The pixel rows of `low` and `high`.
    bottom: f64,
    top: f64,
}

/// The smallest and largest speed-up the axis covers, whatever the data.
const AXIS_RANGE: (f64, f64) = (1e-3, 1e6);

impl LogAxis {
    /// An axis covering `values` (and 1x, always shown), drawn from pixel row `bottom`
    /// up to `top`.
    fn new(values: impl IntoIterator<Item = f64>, bottom: f64, top: f64) -> LogAxis {
        let (mut min, mut max) = (1.0f64, 1.0f64);
        for v in values.into_iter().filter(|v| v.is_finite() && *v > 0.0) {
            min = min.min(v);
            max = max.max(v);
        }
        let (min, max) = (min.max(AXIS_RANGE.0), max.min(AXIS_RANGE.1));
        // Every 1-2-5 tick from 0.0005x to 2 000 000x.
        let all: Vec<Tick> = (-4..=6)
            .flat_map(|exponent| [1, 2, 5].map(|mantissa| Tick { mantissa, exponent }))
            .collect();
        let low_at = all
            .iter()
            .rposition(|t| t.value() < min * (1.0 - 1e-9))
            .unwrap_or(0);
        let high_at = all
            .iter()
            .position(|t| t.value() >= max * (1.0 - 1e-9))
            .unwrap_or(all.len() - 1);
        let mut ticks: Vec<Tick> = all[low_at..=high_at].to_vec();
        // More than four decades: label the powers of ten only (and the ends).
        if ticks.len() > 13 {
            let last = ticks.len() - 1;
            ticks = ticks
                .iter()
                .enumerate()
                .filter(|(i, t)| t.mantissa == 1 || *i == 0 || *i == last)
                .map(|(_, t)| *t)
                .collect();
        }
        LogAxis {
            low: all[low_at].value(),
            high: all[high_at].value(),
            ticks,
            bottom,
            top,
        }
    }

    /// The pixel row of speed-up `v` (clamped to the axis).
    fn y(&self, v: f64) -> f64 {
        let v = if v.is_finite() && v > 0.0 {
            v.clamp(self.low, self.high)
        } else {
            self.low
        };
        let share = (v / self.low).ln() / (self.high / self.low).ln();
        self.bottom - share * (self.bottom - self.top)
    }
}

/// One bar of the chart.
struct Bar {
    /// Index of the mechanism in its panel.
    slot: usize,
    mechanism: &'static str,
    speedup: f64,
    /// CPython's bar (hatched), not concur's.
    python: bool,
    /// The worst try's speed-up and the number of tries, for a row measured more than once.
    spread: Option<(f64, usize)>,
    /// Other work on the machine disturbed the row.
    disturbed: bool,
}

/// The bars of one panel: per mechanism concur's, then CPython's when it was measured.
fn panel_bars(report: &Report, workload: &str) -> Vec<Bar> {
    let base = row(report, workload, "sequential").map(|r| r.wall.as_secs_f64());
    mechanisms(workload)
        .iter()
        .enumerate()
        .flat_map(|(slot, m)| {
            let rust = row(report, workload, m).map(|r| Bar {
                slot,
                mechanism: m,
                speedup: Report::speedup(&report.rows, r),
                python: false,
                spread: (r.tries.len() > 1).then(|| {
                    let worst = r.tries.iter().copied().fold(0.0, f64::max);
                    let base = base.unwrap_or(r.wall.as_secs_f64());
                    (base / worst.max(1e-9), r.tries.len())
                }),
                disturbed: r.disturbed().is_some(),
            });
            let python = python_speedup(report, workload, m).map(|speedup| Bar {
                slot,
                mechanism: m,
                speedup,
                python: true,
                spread: None,
                disturbed: false,
            });
            rust.into_iter().chain(python)
        })
        .collect()
}

/// A bar chart of the speed-ups over sequential: one panel per workload, one bar per
/// mechanism in that mechanism's colour in every panel (and a hatched, lighter one for
/// CPython when measured), on one logarithmic axis shared by the panels, with the 1x
/// line, each bar's value, and from the worst try to the best where a row ran again.
pub(crate) fn svg(report: &Report) -> String {
    const WIDTH: f64 = 1200.0;
    /// Left of the first panel: room for the axis' labels.
    const LEFT: f64 = 76.0;
    const RIGHT: f64 = 16.0;
    const GAP: f64 = 28.0;
    const TOP: f64 = 96.0;
    const BASE: f64 = 440.0;
    let with_python = matches!(report.python, Outcome::Measured { .. });
    let panel_w =
        (WIDTH - LEFT - RIGHT - GAP * (WORKLOADS.len() - 1) as f64) / WORKLOADS.len() as f64;
    let slot_w = panel_w / 4.0;
    let bar_w = if with_python { 34.0 } else { 46.0 };
    let panels: Vec<(&str, Vec<Bar>)> = WORKLOADS
        .iter()
        .map(|wl| (*wl, panel_bars(report, wl)))
        .collect();
    let axis = LogAxis::new(
        panels.iter().flat_map(|(_, bars)| {
            bars.iter()
                .flat_map(|b| std::iter::once(b.speedup).chain(b.spread.map(|s| s.0)))
        }),
        BASE,
        TOP,
    );
    let any_spread = panels.iter().flat_map(|p| &p.1).any(|b| b.spread.is_some());
    let any_disturbed = panels.iter().flat_map(|p| &p.1).any(|b| b.disturbed);
    let (legend, legend_end) = svg_legend(
        report,
        LEFT,
        WIDTH - RIGHT,
        BASE + 100.0,
        any_spread,
        any_disturbed,
    );
    let height = legend_end + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"13\" fill=\"#222\">"
    );
    // CPython's bars: the mechanism's colour, lighter and hatched.
    if with_python {
        out.push_str("<defs>\n");
        for m in CHART_MECHANISMS {
            let colour = mechanism_colour(m);
            let _ = writeln!(
                out,
                "<pattern id=\"cpython-{m}\" patternUnits=\"userSpaceOnUse\" width=\"7\" height=\"7\" patternTransform=\"rotate(45)\"><rect width=\"7\" height=\"7\" fill=\"{}\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"7\" stroke=\"{colour}\" stroke-width=\"3\"/></pattern>",
                lighter(colour, 0.6)
            );
        }
        out.push_str("</defs>\n");
    }
    let _ = writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\">Speed-up over sequential, measured on {} CPUs (higher is better; one log scale for all panels)</text>",
        WIDTH / 2.0,
        report.cpus
    );
    // The axis, left of the first panel: its ticks, and its name.
    let _ = writeln!(
        out,
        "<g class=\"axis\">\n<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{BASE}\" stroke=\"#222\"/>\n<text x=\"18\" y=\"{mid:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {mid:.1})\">speed-up (log scale)</text>",
        x = LEFT - 8.0,
        mid = (TOP + BASE) / 2.0
    );
    for t in &axis.ticks {
        let y = axis.y(t.value());
        let bold = if t.value() == 1.0 {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<g class=\"tick\"><line x1=\"{:.1}\" y1=\"{y:.2}\" x2=\"{:.1}\" y2=\"{y:.2}\" stroke=\"#222\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"{bold}>{}</text></g>",
            LEFT - 13.0,
            LEFT - 8.0,
            LEFT - 16.0,
            y + 4.5,
            t.label()
        );
    }
    out.push_str("</g>\n");
    let s = &report.sizes;
    for (g, (wl, bars)) in panels.iter().enumerate() {
        let x0 = LEFT + g as f64 * (panel_w + GAP);
        let x1 = x0 + panel_w;
        let title = match *wl {
            "cpu" => format!("CPU-bound: primes below {}", s.primes_below),
            "io" => format!(
                "I/O-bound: {} pages, {} ms latency",
                s.pages,
                s.latency.as_millis()
            ),
            _ => format!("Large data: {} MiB of f64", s.data_mib),
        };
        let _ = writeln!(
            out,
            "<g class=\"workload\" id=\"{wl}\">\n<text x=\"{:.1}\" y=\"62\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"14\">{}</text>",
            x0 + panel_w / 2.0,
            xml(&title)
        );
        // Gridlines at every tick; the 1x line (as fast as sequential) stands out.
        for t in &axis.ticks {
            let y = axis.y(t.value());
            let style = if t.value() == 1.0 {
                "class=\"one\" stroke=\"#222\" stroke-width=\"1.5\""
            } else {
                "class=\"grid\" stroke=\"#ddd\""
            };
            let _ = writeln!(
                out,
                "<line {style} x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\"/>"
            );
        }
        let ms = mechanisms(wl);
        for b in bars {
            let slot_x = x0 + b.slot as f64 * slot_w;
            let x = if with_python {
                slot_x + slot_w / 2.0 - bar_w - 2.0 + if b.python { bar_w + 4.0 } else { 0.0 }
            } else {
                slot_x + (slot_w - bar_w) / 2.0
            };
            let top = axis.y(b.speedup);
            let colour = mechanism_colour(b.mechanism);
            let (who, fill) = if b.python {
                ("cpython", format!("url(#cpython-{})", b.mechanism))
            } else {
                ("concur", colour.to_string())
            };
            let mut title = format!(
                "{}, {}: {}x",
                if b.python { "CPython" } else { "concur" },
                mechanism_name(b.mechanism),
                four_digits(b.speedup)
            );
            if let Some((worst, n)) = b.spread {
                let _ = write!(title, " (best of {n} tries; worst {}x)", four_digits(worst));
            }
            if b.disturbed {
                title.push_str(", disturbed by other work on the machine");
            }
            let _ = writeln!(
                out,
                "<rect class=\"bar {who} {}\" x=\"{x:.1}\" y=\"{top:.2}\" width=\"{bar_w}\" height=\"{:.2}\" fill=\"{fill}\" stroke=\"{colour}\"><title>{}</title></rect>",
                b.mechanism,
                BASE - top,
                xml(&title)
            );
            let cx = x + bar_w / 2.0;
            if let Some((worst, n)) = b.spread {
                // From the worst try's speed-up up to the best's (the bar's top).
                let low = axis.y(worst);
                let _ = writeln!(
                    out,
                    "<g class=\"tries\" stroke=\"#111\" stroke-width=\"1.5\"><title>{n} tries: {worst:.2}x to {:.2}x</title><line x1=\"{cx:.1}\" y1=\"{top:.2}\" x2=\"{cx:.1}\" y2=\"{low:.2}\"/><line x1=\"{:.1}\" y1=\"{low:.2}\" x2=\"{:.1}\" y2=\"{low:.2}\"/><line x1=\"{:.1}\" y1=\"{top:.2}\" x2=\"{:.1}\" y2=\"{top:.2}\"/></g>",
                    b.speedup,
                    cx - 6.0,
                    cx + 6.0,
                    cx - 6.0,
                    cx + 6.0
                );
            }
            let _ = writeln!(
                out,
                "<text class=\"value\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{}\"{}>{}{}</text>",
                top - 7.0,
                if with_python { 11 } else { 12 },
                if b.python { " fill=\"#555\"" } else { "" },
                speedup_text(b.speedup),
                if b.disturbed { "*" } else { "" }
            );
        }
        for (i, m) in ms.iter().enumerate() {
            let cx = x0 + i as f64 * slot_w + slot_w / 2.0;
            let [first, second] = bar_label(wl, m);
            let _ = write!(
                out,
                "<text x=\"{cx:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">{first}",
                BASE + 18.0
            );
            if !second.is_empty() {
                let _ = write!(out, "<tspan x=\"{cx:.1}\" dy=\"15\">{second}</tspan>");
            }
            out.push_str("</text>\n");
            // What crossed between processes, where that is the point.
            if let Some(r) = row(report, wl, m).filter(|_| *wl == "data" && i >= 2) {
                let _ = writeln!(
                    out,
                    "<text x=\"{cx:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">{}<tspan x=\"{cx:.1}\" dy=\"13\">serialized</tspan></text>",
                    BASE + 52.0,
                    size(r.serialized_bytes)
                );
            }
        }
        let _ = writeln!(
            out,
            "<line x1=\"{x0:.1}\" y1=\"{BASE}\" x2=\"{x1:.1}\" y2=\"{BASE}\" stroke=\"#222\"/>\n</g>"
        );
    }
    out.push_str(&legend);
    out.push_str("</svg>\n");
    out
}

/// What a legend entry shows left of its text.
enum Swatch {
    /// A square filled with `fill` (a colour or a pattern), outlined in `stroke`.
    Square { fill: String, stroke: String },
    /// The 1x line.
    OneLine,
    /// The worst-to-best whisker.
    Whisker,
    /// Nothing (the text says it all).
    Blank,
}

impl Swatch {
    /// The swatch drawn from `x`, on a line of text whose baseline is `y`.
    fn draw(&self, x: f64, y: f64) -> String {
        let (top, low) = (y - 13.0, y + 2.0);
        match self {
            Swatch::Square { fill, stroke } => format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"14\" fill=\"{fill}\" stroke=\"{stroke}\"/>",
                y - 12.0
            ),
            Swatch::OneLine => format!(
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\" stroke-width=\"1.5\"/>",
                y - 5.0,
                x + 14.0,
                y - 5.0
            ),
            Swatch::Whisker => format!(
                "<g stroke=\"#111\" stroke-width=\"1.5\"><line x1=\"{cx:.1}\" y1=\"{top:.1}\" x2=\"{cx:.1}\" y2=\"{low:.1}\"/><line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{r:.1}\" y2=\"{top:.1}\"/><line x1=\"{x:.1}\" y1=\"{low:.1}\" x2=\"{r:.1}\" y2=\"{low:.1}\"/></g>",
                cx = x + 7.0,
                r = x + 14.0
            ),
            Swatch::Blank => String::new(),
        }
    }
}

/// Roughly how wide `text` is at 13 px in DejaVu Sans (a little wider than most of it).
fn text_width(text: &str) -> f64 {
    7.2 * text.chars().count() as f64
}

/// The chart's legend from baseline `y`, between `left` and `right`: a line of the
/// mechanisms' colours; then what solid and hatched bars, the 1x line, the spread of
/// tries and a `*` mean, one entry after another, on as many lines as they need. Returns
/// it with the baseline of its last line.
fn svg_legend(
    report: &Report,
    left: f64,
    right: f64,
    y: f64,
    spread: bool,
    disturbed: bool,
) -> (String, f64) {
    let mut out = String::new();
    let square = |fill: &str, stroke: &str| Swatch::Square {
        fill: fill.into(),
        stroke: stroke.into(),
    };
    let colours: Vec<(Swatch, String)> = CHART_MECHANISMS
        .iter()
        .map(|m| {
            let name = match *m {
                "process_pool_shm" => "process pool, shared memory",
                m => mechanism_name(m),
            };
            let c = mechanism_colour(m);
            (square(c, c), name.to_string())
        })
        .collect();
    let mut keys: Vec<(Swatch, String)> = Vec::new();
    if let Outcome::Measured { version, .. } = &report.python {
        let c = mechanism_colour("thread_pool");
        keys.push((square(c, c), "solid: concur (Rust)".into()));
        keys.push((
            square("url(#cpython-thread_pool)", c),
            format!("hatched: CPython {version}"),
        ));
    }
    keys.push((Swatch::OneLine, "1x: as fast as sequential".into()));
    if spread {
        keys.push((
            Swatch::Whisker,
            format!(
                "the worst try to the best (bar: best of up to {} tries)",
                crate::TRIES
            ),
        ));
    }
    if disturbed {
        keys.push((
            Swatch::Blank,
            "*: disturbed by other work on the machine".into(),
        ));
    }
    out.push_str("<g class=\"legend\">\n");
    let mut y = y;
    for entries in [colours, keys] {
        let mut x = left;
        for (swatch, text) in entries {
            // The text starts past its swatch, if it has one.
            let indent = if matches!(swatch, Swatch::Blank) {
                0.0
            } else {
                20.0
            };
            let w = indent + text_width(&text);
            // An entry that would run past the right edge starts a new line.
            if x > left && x + w > right {
                x = left;
                y += 26.0;
            }
            let _ = writeln!(
                out,
                "{}<text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
                swatch.draw(x, y),
                x + indent,
                xml(&text)
            );
            x += w + 26.0;
        }
        y += 26.0;
    }
    out.push_str("</g>\n");
    (out, y - 26.0)
}

/// `text` wrapped at `width` columns, continuation lines indented by `indent` spaces.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let lead = text.len() - text.trim_start().len();
    let mut line = " ".repeat(lead);
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if !line.trim().is_empty() && len + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(indent);
        } else if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// A row's mechanism, short enough for a terminal column.
fn short_label(r: &Row) -> String {
    r.label
        .replace(" workers)", ")")
        .replace(" thread)", ")")
        .replace("shared memory", "shm")
        .replace("serialized", "serial.")
        .replace("shared slices", "slices")
}

/// The tables for a terminal `width` columns wide: the measurements aligned in columns,
/// the prose wrapped, each cheat-sheet row a block of its cells. The numbers are those of
/// [`tables`] (which it is made from, but for the measurements).
pub(crate) fn terminal(report: &Report, width: usize) -> String {
    let width = width.max(40);
    let markdown = tables(report);
    let mut out = String::new();
    let mut lines = markdown.lines().peekable();
    let mut header: Vec<String> = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with("| workload |") {
            // The measurements: replace the markdown rows with aligned columns.
            while lines.peek().is_some_and(|l| l.starts_with('|')) {
                lines.next();
            }
            let _ = writeln!(
                out,
                "{:<5}{:<26}{:>8} {:>7} {:>6} {:>4} {:>9} {:>9}",
                "", "mechanism", "wall", "speed", "CPU s", "use", "peak mem", "serial."
            );
            let mut notes = Vec::new();
            for r in &report.rows {
                let star = if r.tries.len() > 1 {
                    let worst = r.tries.iter().copied().fold(0.0, f64::max);
                    notes.push(format!(
                        "{} {}: best of {} tries, worst {worst:.3} s",
                        r.workload,
                        short_label(r),
                        r.tries.len()
                    ));
                    "*"
                } else {
                    " "
                };
                let _ = writeln!(
                    out,
                    "{:<5}{:<26}{:>7.3}s{star}{:>6.1}x {:>6.3} {:>4.1} {:>9} {:>9}",
                    r.workload,
                    short_label(r),
                    r.wall.as_secs_f64(),
                    Report::speedup(&report.rows, r),
                    r.cpu.as_secs_f64(),
                    r.cores(),
                    size(r.peak_bytes),
                    size(r.serialized_bytes),
                );
            }
            for n in notes {
                out.push_str(&wrap(&format!("* {n}"), width, 2));
            }
            continue;
        }
        if line.starts_with('|') {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect();
            if lines.peek().is_some_and(|l| l.starts_with("|---")) {
                lines.next();
                header = cells;
                continue;
            }
            let mut block = cells.first().cloned().unwrap_or_default();
            block.push('\n');
            for (h, c) in header.iter().zip(&cells).skip(1) {
                block.push_str(&wrap(&format!("  {h}: {c}"), width, 4));
            }
            out.push_str(&block);
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with("  - ") {
            if line.starts_with("  - ") {
                out.push_str(&wrap(line, width, 4));
            } else {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        // Prose: join the paragraph's lines, then wrap it.
        let mut para = line.to_string();
        while lines.peek().is_some_and(|l| {
            !l.is_empty() && !l.starts_with('|') && !l.starts_with("  - ") && !l.starts_with('#')
        }) {
            if para.ends_with(':') || para.ends_with('.') {
                break;
            }
            para.push(' ');
            para.push_str(lines.next().unwrap_or_default());
        }
        out.push_str(&wrap(&para, width, 0));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::python::PyRow;
    use crate::{machine, Sizes};

    fn row_of(workload: &'static str, mechanism: &'static str, tries: &[f64]) -> Row {
        let wall = tries.iter().copied().fold(f64::INFINITY, f64::min);
        Row {
            workload,
            mechanism,
            label: mechanism_name(mechanism).to_string(),
            wall: Duration::from_secs_f64(wall),
            cpu: Duration::from_secs_f64(wall),
            peak_bytes: 1 << 20,
            serialized_bytes: if mechanism.starts_with("process") {
                4096
            } else {
                0
            },
            load: machine::Load::default(),
            expected_cores: 0.0,
            tries: tries.to_vec(),
        }
    }

    /// A report whose CPU-bound speed-ups are 1x, 0.8x, 10x and 100x (the process pool's
    /// measured three times, its worst try 20x), the other panels' ordinary, with CPython
    /// when `python`.
    fn report(python: bool) -> Report {
        let mut rows = vec![
            row_of("cpu", "sequential", &[1.0]),
            row_of("cpu", "event_loop", &[1.25]),
            row_of("cpu", "thread_pool", &[0.1]),
            row_of("cpu", "process_pool", &[0.05, 0.01, 0.02]),
        ];
        for (m, wall) in [
            ("sequential", 1.0),
            ("event_loop", 0.03),
            ("thread_pool", 0.05),
            ("process_pool", 0.15),
        ] {
            rows.push(row_of("io", m, &[wall]));
        }
        for (m, wall) in [
            ("sequential", 1.0),
            ("thread_pool", 0.52),
            ("process_pool", 1.4),
            ("process_pool_shm", 0.6),
        ] {
            rows.push(row_of("data", m, &[wall]));
        }
        let python = if python {
            Outcome::Measured {
                version: "3.12 <test>".into(),
                rows: rows
                    .iter()
                    .map(|r| PyRow {
                        workload: r.workload.to_string(),
                        mechanism: r.mechanism.to_string(),
                        wall: r.wall.mul_f64(if r.mechanism == "thread_pool" {
                            3.0
                        } else {
                            1.5
                        }),
                    })
                    .collect(),
                data_checksum: Some(0.0),
            }
        } else {
            Outcome::NotRequested
        };
        Report {
            sizes: Sizes {
                primes_below: 10,
                pages: 1,
                latency: Duration::ZERO,
                workers: 2,
                data_mib: 1,
            },
            cpus: 2,
            rows,
            data_checksum: 0.0,
            python,
        }
    }

    #[test]
    fn only_the_winner_is_the_fastest_and_a_close_second_says_who_won() {
        // A contended run: the thread pool 1.37x, the process pool 1.24x (within 10%).
        let mut r = report(false);
        for row in r.rows.iter_mut().filter(|row| row.workload == "cpu") {
            let wall = match row.mechanism {
                "thread_pool" => 1.0 / 1.37,
                "process_pool" => 1.0 / 1.24,
                _ => continue,
            };
            row.wall = Duration::from_secs_f64(wall);
            row.tries = vec![wall];
        }
        assert_eq!(
            verdict(&r, "cpu", "thread_pool"),
            "CPU-bound: the fastest (1.4x)"
        );
        assert_eq!(
            verdict(&r, "cpu", "process_pool"),
            "CPU-bound: about as fast (1.2x; thread pool 1.4x)"
        );
    }

    /// The value of attribute `name` in the tag that starts `tag`.
    fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        tag.split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("no {name} in {tag}"))
    }

    /// The part of `svg` that draws the panel of `workload`.
    fn panel<'a>(svg: &'a str, workload: &str) -> &'a str {
        let start = svg
            .find(&format!("<g class=\"workload\" id=\"{workload}\">"))
            .unwrap_or_else(|| panic!("no {workload} panel"));
        let len = svg[start..]
            .find("</g>\n</g>")
            .map_or(svg.len() - start, |e| e + 4);
        &svg[start..start + len]
    }

    /// The `<rect` of the bar of `who` (`concur` or `cpython`) for `mechanism`.
    fn bar<'a>(panel: &'a str, who: &str, mechanism: &str) -> &'a str {
        let at = panel
            .find(&format!("<rect class=\"bar {who} {mechanism}\""))
            .unwrap_or_else(|| panic!("no {who} {mechanism} bar in {panel}"));
        &panel[at..]
    }

    fn number(s: &str) -> f64 {
        s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
    }

    #[test]
    fn bar_heights_follow_one_log_scale() {
        let svg = svg(&report(false));
        if let Some(path) = std::env::var_os("CONCUR_SVG_OUT") {
            std::fs::write(path, &svg).unwrap();
        }
        let cpu = panel(&svg, "cpu");
        let height = |m: &str| number(attr(bar(cpu, "concur", m), "height"));
        let (one, ten, hundred) = (
            height("sequential"),
            height("thread_pool"),
            height("process_pool"),
        );
        let decade = ten - one;
        assert!(decade > 50.0, "{one} {ten} {hundred}");
        assert!(
            (hundred - ten - decade).abs() < 0.05,
            "{one} {ten} {hundred}"
        );
        // 0.8x: below the 1x line, by log10(1/0.8) of a decade.
        let slow = height("event_loop");
        assert!(
            (one - slow - decade * (1.0f64 / 0.8).log10()).abs() < 0.05,
            "{one} {slow}"
        );
        // The 1x line is at the sequential bar's top, in every panel.
        let one_y = number(attr(&cpu[cpu.find("class=\"one\"").unwrap()..], "y1"));
        let seq_y = number(attr(bar(cpu, "concur", "sequential"), "y"));
        assert!((one_y - seq_y).abs() < 0.1, "{one_y} {seq_y}");
    }

    #[test]
    fn the_axis_ticks_cover_the_data_from_half_to_a_hundred() {
        let svg = svg(&report(false));
        let ticks: Vec<&str> = svg
            .split("<g class=\"tick\">")
            .skip(1)
            .map(|t| {
                t.split("</text>")
                    .next()
                    .unwrap()
                    .rsplit('>')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            ticks,
            ["0.5x", "1x", "2x", "5x", "10x", "20x", "50x", "100x"]
        );
        assert_eq!(svg.matches("class=\"one\"").count(), 3);
        assert!(svg.contains(">100x</text>") && svg.contains(">0.8x</text>"));
    }

    #[test]
    fn a_mechanism_has_one_colour_in_every_panel_and_cpython_a_hatched_one() {
        let mut r = report(true);
        // Disturbed: it got 1 of the 2 cores it could use (the legend then explains `*`).
        r.rows[2].expected_cores = 2.0;
        let svg = svg(&r);
        assert!(svg.contains(">10.0x*</text>"), "{svg}");
        assert!(svg.contains("*: disturbed by other work"), "{svg}");
        if let Some(path) = std::env::var_os("CONCUR_SVG_OUT_PYTHON") {
            std::fs::write(path, &svg).unwrap();
        }
        let mut colours = Vec::new();
        for m in CHART_MECHANISMS {
            let fills: Vec<&str> = WORKLOADS
                .iter()
                .filter(|wl| mechanisms(wl).contains(&m))
                .map(|wl| attr(bar(panel(&svg, wl), "concur", m), "fill"))
                .collect();
            assert!(!fills.is_empty(), "{m}");
            assert!(fills.iter().all(|f| *f == fills[0]), "{m}: {fills:?}");
            for wl in WORKLOADS.iter().filter(|wl| mechanisms(wl).contains(&m)) {
                let hatched = attr(bar(panel(&svg, wl), "cpython", m), "fill");
                assert_eq!(hatched, format!("url(#cpython-{m})"));
                let stroke = attr(bar(panel(&svg, wl), "cpython", m), "stroke");
                assert_eq!(stroke, fills[0], "{m}");
            }
            colours.push(fills[0]);
        }
        let mut distinct = colours.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), colours.len(), "{colours:?}");
        assert!(svg.contains("hatched: CPython 3.12 &lt;test&gt;"), "{svg}");
    }

    #[test]
    fn a_row_measured_more_than_once_shows_its_worst_try() {
        let svg = svg(&report(false));
        assert_eq!(svg.matches("<g class=\"tries\"").count(), 1);
        let cpu = panel(&svg, "cpu");
        let tries = &cpu[cpu.find("<g class=\"tries\"").unwrap()..];
        assert!(tries.contains("3 tries: 20.00x to 100.00x"), "{tries}");
        let whisker = &tries[tries.find("<line").unwrap()..];
        let (top, low) = (number(attr(whisker, "y1")), number(attr(whisker, "y2")));
        let ten_top = number(attr(bar(cpu, "concur", "thread_pool"), "y"));
        let hundred_top = number(attr(bar(cpu, "concur", "process_pool"), "y"));
        assert!((top - hundred_top).abs() < 0.01, "{top} {hundred_top}");
        // 20x: a third of a decade (log10 2) above the 10x bar's top.
        let decade = ten_top - hundred_top;
        assert!(
            (ten_top - low - decade * 2f64.log10()).abs() < 0.05,
            "{low}"
        );
    }

    #[test]
    fn json_carries_the_tries_the_spread_and_the_contention() {
        let mut r = report(false);
        let pool = &mut r.rows[2];
        assert_eq!(pool.mechanism, "thread_pool");
        // It could use 2 cores and got 1, while tasks waited for a CPU half the time.
        pool.expected_cores = 2.0;
        pool.load = machine::Load {
            pressure: Some(0.5),
            steal: Some(0.0),
        };
        let text = json(&r);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.contains(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {text}"))
        };
        assert_eq!(
            line("\"contention\""),
            "  \"contention\": {\"cpus_available\": 2, \"cpus_obtained\": 1.000, \"cpu_pressure_share\": 0.5000, \"cpu_steal_share\": 0.0000, \"contended\": true, \"disturbed_rows\": 1},"
        );
        let process = line("\"workload\": \"cpu\", \"mechanism\": \"process_pool\"");
        assert!(
            process.contains("\"tries\": 3, \"tries_wall_s\": [0.050000, 0.010000, 0.020000], \"best_wall_s\": 0.010000, \"worst_wall_s\": 0.050000, \"worst_speedup\": 20.000,"),
            "{process}"
        );
        assert!(
            process.contains("\"cpu_pressure_share\": null, \"cpu_steal_share\": null, \"disturbed\": false, \"disturbed_reason\": null}"),
            "{process}"
        );
        let threads = line("\"workload\": \"cpu\", \"mechanism\": \"thread_pool\"");
        assert!(
            threads.contains("\"tries\": 1, \"tries_wall_s\": [0.100000], \"best_wall_s\": 0.100000, \"worst_wall_s\": 0.100000, \"worst_speedup\": 10.000, \"expected_cores\": 2.0, \"cpu_pressure_share\": 0.5000, \"cpu_steal_share\": 0.0000, \"disturbed\": true, \"disturbed_reason\": \"it got 1.0 of the 2 cores it could use"),
            "{threads}"
        );
        assert_eq!(text.matches('{').count(), text.matches('}').count());
        assert_eq!(text.matches('[').count(), text.matches(']').count());
    }

    #[test]
    fn an_axis_of_many_decades_labels_the_powers_of_ten_and_its_ends() {
        let axis = LogAxis::new([0.03, 2000.0, f64::NAN, 0.0], 400.0, 100.0);
        let labels: Vec<String> = axis.ticks.iter().map(|t| t.label()).collect();
        assert_eq!(
            labels,
            ["0.02x", "0.1x", "1x", "10x", "100x", "1000x", "2000x"]
        );
        assert_eq!(axis.y(0.02), 400.0);
        assert_eq!(axis.y(2000.0), 100.0);
        // Out of range and nonsense stay on the axis.
        assert_eq!(axis.y(1e9), 100.0);
        assert_eq!(axis.y(f64::NAN), 400.0);
        let decade = axis.y(1.0) - axis.y(10.0);
        assert!((axis.y(10.0) - axis.y(100.0) - decade).abs() < 1e-9);
        // One value: the axis still spans the tick below it to the one at or above it.
        let one = LogAxis::new([1.0], 400.0, 100.0);
        let labels: Vec<String> = one.ticks.iter().map(|t| t.label()).collect();
        assert_eq!(labels, ["0.5x", "1x"]);
    }
}
