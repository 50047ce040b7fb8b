//! `MpiPoolExecutor` across the ranks of a real `mpirun -n 3` (oversubscribed, on this
//! machine): each test starts `mpirun` on this very test binary, which runs the test
//! `rank` on every rank with a scenario named in the environment. Rank 0 runs the
//! scenario and prints what it saw; the test checks it, and that the ranks really ran
//! (as root, `mpirun` without its permission variables exits 0 and runs nothing).
//!
//! Needs Open MPI (`scripts/install-mpi.sh`) and the `mpi` feature:
//! `cargo test --features mpi --test mpi_pool`.

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::Duration;

use concur::mpi::MpiPoolExecutor;
use concur::{as_completed, wait, ReturnWhen, TaskError, WorkerExit};

/// The variable that names the scenario the ranks run.
const SCENARIO: &str = "CONCUR_MPI_TEST_SCENARIO";

/// Runs `scenario` on 3 ranks (2 agents with 2 local workers each); returns rank 0's
/// standard output, after checking that `mpirun` succeeded and rank 0 got its pool.
fn mpirun(scenario: &str) -> String {
    let out = mpirun_output(scenario, 3);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mpirun failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("rank 0: a pool of 3 ranks and 4 workers"),
        "the ranks did not run (stdout:\n{stdout}\nstderr:\n{stderr})"
    );
    assert!(
        stdout.contains(&format!("rank 0: scenario {scenario} passed")),
        "the scenario did not finish (stdout:\n{stdout}\nstderr:\n{stderr})"
    );
    stdout
}

fn mpirun_output(scenario: &str, ranks: usize) -> Output {
    let exe = std::env::current_exe().unwrap();
    mpirun_command(&[], &[(&exe, ranks)], scenario)
}

/// Runs `mpirun` with the options `options` and `n` ranks of each `(program, n)` (MPMD:
/// `-n 2 a : -n 1 b`).
fn mpirun_command(
    options: &[&str],
    programs: &[(&std::path::Path, usize)],
    scenario: &str,
) -> Output {
    let mut cmd = Command::new("mpirun");
    // A safety net, not a measurement: a scenario that hangs ends the job (and fails the
    // test) instead of the test run.
    cmd.args(["--timeout", "300"]).args(options);
    for (i, (exe, n)) in programs.iter().enumerate() {
        if i > 0 {
            cmd.arg(":");
        }
        cmd.args(["-n", &n.to_string(), "-x", SCENARIO])
            .arg(exe)
            .args(["--exact", "rank", "--nocapture", "--test-threads=1"]);
    }
    let result = cmd
        .env(SCENARIO, scenario)
        // Open MPI as root, with more ranks than cores, its TCP kept on loopback.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "true")
        .env("OMPI_MCA_btl_tcp_if_include", "lo")
        .env("OMPI_MCA_oob_tcp_if_include", "lo")
        .output();
    match result {
        Ok(out) => out,
        Err(e) => panic!("cannot run mpirun ({e}): install Open MPI with scripts/install-mpi.sh"),
    }
}

/// The entry point of every rank under `mpirun`; outside `mpirun` it does nothing.
#[test]
fn rank() {
    let Ok(scenario) = std::env::var(SCENARIO) else {
        return;
    };
    // Agents never come back from `world()`.
    let mut builder = MpiPoolExecutor::builder().workers_per_rank(2);
    if scenario == "limits" {
        builder = builder.task_timeout(Duration::from_secs(3));
    }
    if scenario == "recovery" || scenario == "root_killed" {
        builder = builder.rank_timeout(Duration::from_secs(3));
    }
    let pool = builder.world();
    if scenario == "refused" {
        let err = pool.unwrap_err();
        println!("rank 0: refused: {err}");
        return;
    }
    let pool = pool.unwrap();
    println!(
        "rank 0: a pool of {} ranks and {} workers",
        pool.ranks(),
        pool.workers()
    );
    match scenario.as_str() {
        "basics" => basics(&pool),
        "faults" => faults(&pool),
        "leaks" => leaks(&pool),
        "measure" => measure(&pool),
        "limits" => limits(&pool),
        "agent_killed" => agent_killed(&pool),
        "flow" => flow(&pool),
        "cancel_pending" => cancel_pending(&pool),
        "recovery" => recovery(&pool),
        "root_killed" => root_killed(&pool),
        other => panic!("no scenario {other}"),
    }
    pool.shutdown();
    println!("rank 0: scenario {scenario} passed");
}

fn square(x: u64) -> u64 {
    x * x
}

fn double(x: u64) -> u64 {
    x * 2
}

fn forever(_: ()) {
    loop {
        std::thread::park();
    }
}

fn panics(n: u32) -> u32 {
    panic!("remote task {n} gave up")
}

fn aborts(_: ()) {
    std::process::abort()
}

fn segfaults(_: ()) {
    // SAFETY: raising a signal is always allowed; this one kills the worker.
    unsafe { libc::raise(libc::SIGSEGV) };
}

fn odd_panics(x: u64) -> u64 {
    assert!(x % 2 == 0, "odd item {x}");
    x
}

/// Where a task runs: its worker's pid and that worker's parent (the agent).
fn whereami(_: u32) -> (u32, u32) {
    (std::process::id(), std::os::unix::process::parent_id())
}

/// What a local worker sees of MPI: whether it is initialised, the launcher's variables
/// it inherited, and what `world()` says there.
fn mpi_in_a_worker(_: ()) -> (bool, Vec<String>, String) {
    let inherited = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("OMPI_") || k.starts_with("PMIX_") || k.starts_with("PMI_"))
        .collect();
    let world = match MpiPoolExecutor::world() {
        Ok(_) => "a pool".to_owned(),
        Err(e) => e.to_string(),
    };
    (mpi::environment::is_initialized(), inherited, world)
}

fn basics(pool: &MpiPoolExecutor) {
    assert_eq!((pool.ranks(), pool.workers()), (3, 4));
    assert_eq!(pool.submit(square, 12).join(), Ok(144));

    // map: in order, 100,000 items, lazily read (an endless input works).
    let out: Vec<u64> = pool.map(double, 0..100_000).map(Result::unwrap).collect();
    assert_eq!(out, (0..100_000).map(|x| x * 2).collect::<Vec<_>>());
    let first: Vec<u64> = pool.map(double, 0..).take(10).map(Result::unwrap).collect();
    assert_eq!(first, (0..10).map(|x| x * 2).collect::<Vec<_>>());
    let fixed: Vec<u64> = pool
        .map(square, 0..1000)
        .chunk_size(7)
        .map(Result::unwrap)
        .collect();
    assert_eq!(fixed, (0..1000).map(|x| x * x).collect::<Vec<_>>());
    // An item that panics fails alone.
    let mixed: Vec<_> = pool.map(odd_panics, 0..6).collect();
    for (i, r) in mixed.iter().enumerate() {
        match r {
            Ok(v) => assert_eq!(*v, i as u64),
            Err(e) => assert!(e.is_panic() && e.to_string().contains(&format!("odd item {i}"))),
        }
    }
    assert_eq!(mixed.iter().filter(|r| r.is_err()).count(), 3);

    // wait and as_completed over remote handles.
    let handles: Vec<_> = (0..20).map(|i| pool.submit(square, i)).collect();
    let waited = wait(&handles, ReturnWhen::AllCompleted, None);
    assert_eq!(waited.done.len(), 20);
    assert!(waited.not_done.is_empty());
    let mut got: Vec<u64> = as_completed(handles).map(|(_, r)| r.unwrap()).collect();
    got.sort();
    assert_eq!(got, (0..20).map(|i| i * i).collect::<Vec<_>>());

    // A handle that never finishes: a bounded wait says so; cancel resolves it.
    let stuck = pool.submit(forever, ());
    let quick = pool.submit(square, 3);
    let first = wait(
        &[pool.submit(square, 2), pool.submit(square, 4)],
        ReturnWhen::FirstCompleted,
        None,
    );
    assert!(!first.done.is_empty());
    assert!(!stuck.wait_timeout(Duration::from_millis(20)));
    let bounded = wait(
        std::slice::from_ref(&stuck),
        ReturnWhen::FirstCompleted,
        Some(Duration::from_millis(20)),
    );
    assert_eq!((bounded.done.len(), bounded.not_done.len()), (0, 1));
    assert!(stuck.cancel());
    assert_eq!(stuck.join(), Err(TaskError::Cancelled));
    assert_eq!(quick.join(), Ok(9));
    // A map with a time limit: its first item never ends, so the limit passes whatever
    // the machine's speed; the map ends, its chunks are cancelled (workers stopped).
    let mut timed = pool
        .map(
            |x: u64| {
                if x == 0 {
                    forever(())
                }
            },
            0..10,
        )
        .chunk_size(1)
        .timeout(Duration::from_millis(100));
    assert_eq!(timed.next(), Some(Err(TaskError::TimedOut)));
    assert_eq!(timed.next(), None);
    drop(timed);
    // The pool still serves, on every worker.
    let out: Vec<u64> = pool.map(square, 0..100).map(Result::unwrap).collect();
    assert_eq!(out[99], 99 * 99);

    // map_unordered: every item once, with its input index; a panicking item fails alone.
    let mut got: Vec<(usize, u64)> = pool
        .map_unordered(double, 0..10_000)
        .map(|(i, r)| (i, r.unwrap()))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        (0..10_000).map(|i| (i as usize, 2 * i)).collect::<Vec<_>>()
    );
    let mut mixed: Vec<_> = pool.map_unordered(odd_panics, 0..6).chunk_size(2).collect();
    mixed.sort_by_key(|(i, _)| *i);
    for (i, r) in &mixed {
        assert_eq!(r.is_err(), i % 2 == 1, "item {i}: {r:?}");
    }
    // Its time limit: the item that never ends is the one reported, after the others
    // (the limit is generous, so that the three quick items are in before it on a loaded
    // machine too; the hung one is what waits for it).
    let mut timed = pool
        .map_unordered(
            |x: u64| {
                if x == 0 {
                    forever(())
                }
                x
            },
            0..4,
        )
        .chunk_size(1)
        .timeout(Duration::from_secs(5));
    let mut seen: Vec<_> = (&mut timed).take(3).collect();
    seen.sort_by_key(|(i, _)| *i);
    assert_eq!(seen, [(1, Ok(1)), (2, Ok(2)), (3, Ok(3))]);
    assert_eq!(timed.next(), Some((0, Err(TaskError::TimedOut))));
    assert_eq!(timed.next(), None);
    drop(timed);

    // The executor is shared by threads: each submits and joins its own tasks.
    std::thread::scope(|s| {
        for t in 0..4u64 {
            s.spawn(move || {
                let hs: Vec<_> = (0..50).map(|i| pool.submit(square, t * 100 + i)).collect();
                for (i, h) in hs.into_iter().enumerate() {
                    let x = t * 100 + i as u64;
                    assert_eq!(h.join(), Ok(x * x));
                }
            });
        }
    });

    // Local workers never see MPI.
    let (initialised, inherited, world) = pool.submit(mpi_in_a_worker, ()).join().unwrap();
    assert!(!initialised, "MPI is initialised in a local worker");
    assert!(inherited.is_empty(), "a worker inherited {inherited:?}");
    assert!(world.contains("worker of an MPI agent"), "{world}");
    println!("rank 0: basics checked");
}

fn faults(pool: &MpiPoolExecutor) {
    let err = pool.submit(panics, 7).join().unwrap_err();
    assert!(err.is_panic(), "{err}");
    assert!(err.to_string().contains("remote task 7 gave up"), "{err}");
    assert_eq!(
        pool.submit(aborts, ()).join(),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGABRT)))
    );
    assert_eq!(
        pool.submit(segfaults, ()).join(),
        Err(TaskError::WorkerDied(WorkerExit::Signal(libc::SIGSEGV)))
    );
    // Each failed only itself: many tasks around them all succeed.
    let around: Vec<_> = (0..50)
        .map(|i| {
            if i == 25 {
                pool.submit(aborts, ());
            }
            pool.submit(square, i)
        })
        .collect();
    for (i, h) in around.into_iter().enumerate() {
        assert_eq!(h.join(), Ok((i * i) as u64));
    }
    // A SharedBuffer does not travel to another rank: refused at submit.
    fn len(b: concur::SharedBuffer) -> usize {
        b.len()
    }
    let err = pool
        .submit(len, concur::SharedBuffer::new(8).unwrap())
        .join()
        .unwrap_err();
    assert!(
        matches!(&err, TaskError::Serialization(m) if m.contains("SharedBuffer")),
        "{err}"
    );
    println!("rank 0: faults checked");
}

fn limits(pool: &MpiPoolExecutor) {
    // The agents' local pools enforce the time limit: the task fails, its worker is
    // replaced, the others run.
    let stuck = pool.submit(forever, ());
    let quick: Vec<_> = (0..10).map(|i| pool.submit(square, i)).collect();
    assert_eq!(stuck.join(), Err(TaskError::TimedOut));
    for (i, h) in quick.into_iter().enumerate() {
        assert_eq!(h.join(), Ok((i * i) as u64));
    }
    assert_eq!(pool.submit(square, 5).join(), Ok(25));
    println!("rank 0: limits checked");
}

/// A task that kills the agent it runs under (its worker's parent) with SIGKILL.
fn kill_my_agent(_: ()) {
    let agent = std::os::unix::process::parent_id();
    // SAFETY: kill(2) with a pid and a signal number.
    unsafe { libc::kill(agent as i32, libc::SIGKILL) };
    loop {
        std::thread::park();
    }
}

fn agent_killed(pool: &MpiPoolExecutor) {
    leaks(pool);
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    // Under a default mpirun, the job ends: this never returns.
    let _ = pool.submit(kill_my_agent, ()).join();
    println!("rank 0: still alive after an agent was killed");
}

fn flow(pool: &MpiPoolExecutor) {
    // Far more tasks than the agents' credits (8 per worker): the rest wait on rank 0.
    let n = 20_000;
    let handles: Vec<_> = (0..n).map(|_| pool.submit(forever, ())).collect();
    let stats = pool.stats();
    assert_eq!(stats.queued + stats.sent, n, "{stats:?}");
    assert!(stats.sent <= 8 * pool.workers(), "{stats:?}");
    // Killing the pool resolves every one of them, sent or not.
    pool.shutdown_kill();
    for h in handles {
        assert_eq!(h.join(), Err(TaskError::Shutdown));
    }
    assert_eq!(pool.submit(square, 1).join(), Err(TaskError::Shutdown));
    println!("rank 0: flow checked");
}

/// Item 50 kills the agent it runs under; the others are themselves.
fn kills_its_agent_at_50(x: u64) -> u64 {
    if x == 50 {
        kill_my_agent(());
    }
    x
}

fn recovery(pool: &MpiPoolExecutor) {
    use std::time::Instant;
    leaks(pool);
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    let began = Instant::now();
    let handles: Vec<_> = (0..200)
        .map(|i| pool.submit(kills_its_agent_at_50, i))
        .collect();
    let mut died = 0;
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(v) => assert_eq!(v, i as u64),
            Err(TaskError::WorkerDied(_)) => died += 1,
            Err(e) => panic!("task {i}: {e}"),
        }
    }
    println!(
        "rank 0: every handle resolved, {died} with WorkerDied, {:.1?} after the first submit",
        began.elapsed()
    );
    assert!(died >= 1, "the task that killed its agent died with it");
    // The other agent still serves.
    let out: Vec<u64> = pool.map(square, 0..100).map(Result::unwrap).collect();
    assert_eq!(out[99], 99 * 99);
    println!("rank 0: recovery checked");
}

fn root_killed(pool: &MpiPoolExecutor) {
    leaks(pool);
    let busy: Vec<_> = (0..8).map(|_| pool.submit(forever, ())).collect();
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    // SAFETY: kill(2) of this very process.
    unsafe { libc::kill(std::process::id() as i32, libc::SIGKILL) };
    drop(busy);
}

fn cancel_pending(pool: &MpiPoolExecutor) {
    let handles: Vec<_> = (0..20_000u64).map(|i| pool.submit(square, i)).collect();
    // What is still on rank 0 fails with Shutdown; what the agents hold finishes.
    pool.shutdown_cancel_pending();
    let mut shut = 0;
    for (i, h) in handles.into_iter().enumerate() {
        assert!(
            h.is_finished(),
            "shutdown returned with task {i} unfinished"
        );
        match h.join() {
            Ok(v) => assert_eq!(v, (i * i) as u64),
            Err(TaskError::Shutdown) => shut += 1,
            Err(e) => panic!("task {i}: {e}"),
        }
    }
    println!("rank 0: cancel_pending checked ({shut} of 20000 never sent)");
}

fn leaks(pool: &MpiPoolExecutor) {
    // Enough tasks, held long enough, that every local worker starts.
    let places: BTreeSet<(u32, u32)> = pool
        .map(whereami, 0..2000)
        .chunk_size(1)
        .map(Result::unwrap)
        .collect();
    let workers: BTreeSet<u32> = places.iter().map(|p| p.0).collect();
    let agents: BTreeSet<u32> = places.iter().map(|p| p.1).collect();
    let me = std::process::id();
    assert!(!agents.contains(&me));
    assert!(agents.len() <= 2, "{agents:?}");
    let list = |s: &BTreeSet<u32>| s.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
    println!("rank 0: workers {}", list(&workers));
    println!("rank 0: agents {}", list(&agents));
}

fn noop(x: u32) -> u32 {
    x
}

fn echo(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

/// CPU seconds process `pid` has used so far (user + system).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / hz
}

/// Not a test: what `CONCUR_MPI_TEST_SCENARIO=measure mpirun -n 3 <this binary> --exact
/// rank --nocapture` prints (src/mpi/DESIGN.md, "What costs what").
fn measure(pool: &MpiPoolExecutor) {
    use std::time::Instant;
    // Warm up: every worker started.
    let agents: BTreeSet<u32> = pool
        .map(whereami, 0..1000)
        .chunk_size(1)
        .map(|r| r.unwrap().1)
        .collect();
    let n = 500;
    let began = Instant::now();
    for i in 0..n {
        pool.submit(noop, i).join().unwrap();
    }
    println!(
        "round trip of one no-op task: {:.1} us",
        began.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    for chunk in [1, 16, 256, 0] {
        // Fewer items where each costs a round trip: the rate is the same.
        let items = if chunk == 1 { 10_000u32 } else { 100_000 };
        let began = Instant::now();
        let it = pool.map(noop, 0..items);
        let it = if chunk == 0 { it } else { it.chunk_size(chunk) };
        assert_eq!(it.filter(Result::is_ok).count(), items as usize);
        let label = if chunk == 0 {
            "auto".to_owned()
        } else {
            chunk.to_string()
        };
        println!(
            "map of {items} no-op items, chunk size {label}: {:.0} items/s",
            items as f64 / began.elapsed().as_secs_f64()
        );
    }
    for mib in [1usize, 16] {
        let data = vec![7u8; mib << 20];
        let began = Instant::now();
        let rounds = 8;
        for _ in 0..rounds {
            assert_eq!(
                pool.submit(echo, data.clone()).join().unwrap().len(),
                data.len()
            );
        }
        let secs = began.elapsed().as_secs_f64();
        println!(
            "echo of a {mib} MiB argument: {:.2} GB/s (both ways), {:.1} ms a round trip",
            2.0 * rounds as f64 * data.len() as f64 / secs / 1e9,
            secs * 1e3 / rounds as f64
        );
    }
    let pids: Vec<u32> = std::iter::once(std::process::id())
        .chain(agents.iter().copied())
        .collect();
    let before: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect();
    std::thread::sleep(Duration::from_secs(5));
    let used: Vec<String> = pids
        .iter()
        .zip(&before)
        .map(|(&p, b)| format!("{:.3}", cpu_seconds(p) - b))
        .collect();
    println!(
        "idle CPU seconds over 5 s, rank 0 then the agents: {}",
        used.join(" ")
    );
}

/// The pids a scenario printed after `label`.
fn pids(stdout: &str, label: &str) -> Vec<u32> {
    stdout
        .lines()
        .find_map(|l| Some(l.split_once(&format!("rank 0: {label} "))?.1))
        .unwrap_or_else(|| panic!("no {label} in {stdout}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn submit_map_wait_as_completed_and_cancel_work_across_ranks() {
    let out = mpirun("basics");
    assert!(out.contains("rank 0: basics checked"));
}

#[test]
fn a_remote_task_that_panics_aborts_or_segfaults_fails_only_itself() {
    let out = mpirun("faults");
    assert!(out.contains("rank 0: faults checked"));
}

#[test]
fn a_remote_task_past_its_time_limit_times_out() {
    let out = mpirun("limits");
    assert!(out.contains("rank 0: limits checked"));
}

#[test]
fn tasks_beyond_the_agents_credits_wait_on_rank_0_and_shutdown_kill_resolves_them_all() {
    let out = mpirun("flow");
    assert!(out.contains("rank 0: flow checked"));
}

#[test]
fn shutdown_cancel_pending_fails_what_is_still_on_rank_0_and_finishes_the_rest() {
    let out = mpirun("cancel_pending");
    assert!(out.contains("rank 0: cancel_pending checked"), "{out}");
}

#[test]
fn shutdown_leaves_no_process_behind() {
    let out = mpirun("leaks");
    let workers = pids(&out, "workers");
    let agents = pids(&out, "agents");
    assert!(!workers.is_empty() && !agents.is_empty(), "{out}");
    // mpirun has returned: it reaped the ranks, and each agent reaped its workers before
    // it left. None of them is still there.
    for pid in workers.iter().chain(&agents) {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
        assert!(
            exe.as_ref()
                .map_or(true, |e| *e != std::env::current_exe().unwrap()),
            "process {pid} of the job is still running ({exe:?})"
        );
    }
}

#[test]
fn a_rank_that_runs_another_build_is_refused() {
    // Another build: this binary with one byte of its `.comment` section (the compiler's
    // name, never loaded) changed. It runs exactly as this one does, but its contents
    // differ, as another build's would.
    let exe = std::env::current_exe().unwrap();
    let mut bytes = std::fs::read(&exe).unwrap();
    let at = bytes
        .windows(13)
        .position(|w| w == b"rustc version")
        .expect("a .comment section");
    bytes[at] = b'R';
    let dir = std::env::temp_dir().join(format!("concur-mpi-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let other = dir.join("other-build");
    std::fs::write(&other, &bytes).unwrap();
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = mpirun_command(&[], &[(&exe, 2), (&other, 1)], "refused");
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // (The line may follow the test harness's "test rank ... ".)
    let refused = stdout
        .split_once("rank 0: refused: ")
        .and_then(|(_, rest)| rest.lines().next())
        .unwrap_or_else(|| panic!("rank 0 was not refused:\n{stdout}\n{stderr}"));
    assert!(
        refused.contains("rank 2") && refused.contains("runs another build"),
        "{refused}"
    );
    assert!(!refused.contains("rank 1"), "{refused}");
    // The agents said why they do not serve, and left (with code 0, so that mpirun does
    // not kill rank 0 before it reports).
    assert!(stderr.contains("MPI rank 2 does not serve"), "{stderr}");
    assert!(out.status.success(), "{}", out.status);
}

#[test]
fn an_agent_killed_ends_the_job_and_leaves_no_process_behind() {
    let out = mpirun_output("agent_killed", 3);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("rank 0: a pool of 3 ranks and 4 workers"),
        "the ranks did not run:\n{stdout}\n{stderr}"
    );
    // Open MPI ends the whole job when a rank dies (rank 0 included), and says so.
    assert!(!out.status.success(), "{}:\n{stdout}", out.status);
    assert!(!stdout.contains("still alive"), "{stdout}");
    let workers = pids(&stdout, "workers");
    let agents = pids(&stdout, "agents");
    for pid in workers.iter().chain(&agents) {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
        assert!(
            exe.as_ref()
                .map_or(true, |e| *e != std::env::current_exe().unwrap()),
            "process {pid} of the job is still running ({exe:?})"
        );
    }
}

#[test]
fn under_enable_recovery_a_killed_agent_fails_only_its_tasks_and_the_pool_goes_on() {
    let exe = std::env::current_exe().unwrap();
    let out = mpirun_command(&["--enable-recovery"], &[(&exe, 3)], "recovery");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The job survives the dead rank: rank 0 resolved every handle (those on the dead
    // rank with WorkerDied, once it had been silent for the rank timeout), went on with
    // the other agent, and shut down.
    assert!(out.status.success(), "{}:\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("rank 0: every handle resolved"), "{stdout}");
    assert!(stdout.contains("rank 0: recovery checked"), "{stdout}");
    assert!(
        stderr.contains("is lost: it has been silent for"),
        "{stderr}"
    );
    for pid in pids(&stdout, "workers")
        .iter()
        .chain(&pids(&stdout, "agents"))
    {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
        assert!(
            exe.as_ref()
                .map_or(true, |e| *e != std::env::current_exe().unwrap()),
            "process {pid} of the job is still running ({exe:?})"
        );
    }
}

#[test]
fn under_enable_recovery_the_agents_of_a_killed_rank_0_leave_and_take_their_workers() {
    let exe = std::env::current_exe().unwrap();
    let out = mpirun_command(&["--enable-recovery"], &[(&exe, 3)], "root_killed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("rank 0: a pool of 3 ranks and 4 workers"),
        "the ranks did not run:\n{stdout}\n{stderr}"
    );
    // Each agent saw rank 0 go silent, killed its workers (busy with endless tasks) and
    // left; mpirun then ended.
    assert_eq!(
        stderr.matches("leaves: rank 0 has been silent").count(),
        2,
        "{stderr}"
    );
    for pid in pids(&stdout, "workers")
        .iter()
        .chain(&pids(&stdout, "agents"))
    {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
        assert!(
            exe.as_ref()
                .map_or(true, |e| *e != std::env::current_exe().unwrap()),
            "process {pid} of the job is still running ({exe:?})"
        );
    }
}
