//! Whole-process CPU per exported span at a paced rate, measured with `getrusage`, each
//! stack in a process of its own: the harness the `cpu_per_span` benches share.
//! Included with `#[path]`.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// The bench's `main`: with a stack name as first argument, runs that stack (`run(stack,
/// rate, seconds)`) in this process; otherwise runs every stack in a child process and
/// prints their rows as one table. Arguments: `[RATE SECONDS ROUNDS]`, defaults 200,000
/// spans a second for 3 s, one round. Lines a child writes to standard error starting
/// with `note:` follow its row. With more than one round, the stacks take turns, round
/// after round, and the table gives each stack's median and range.
pub(crate) fn main(stacks: &[&str], run: fn(&str, u64, u64)) {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let number =
        |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    if let Some(stack) = args.first().filter(|a| stacks.contains(&a.as_str())) {
        return run(stack, number(1, 200_000), number(2, 3));
    }
    let (rate, seconds, rounds) = (number(0, 200_000), number(1, 3), number(2, 1).max(1));
    // Rounds alternate between the stacks, so that a change in the machine's load
    // falls on all of them.
    let mut results: Vec<Vec<(u64, u64)>> = vec![Vec::new(); stacks.len()];
    let mut notes: Vec<Vec<String>> = vec![Vec::new(); stacks.len()];
    let mut rows: Vec<String> = vec![String::new(); stacks.len()];
    for _ in 0..rounds {
        for (i, stack) in stacks.iter().enumerate() {
            let out = Command::new(std::env::current_exe().unwrap())
                .args([stack.to_string(), rate.to_string(), seconds.to_string()])
                .output()
                .expect("runs");
            let text = String::from_utf8_lossy(&out.stdout);
            let errors = String::from_utf8_lossy(&out.stderr);
            match text.lines().find(|l| l.starts_with('|')) {
                Some(row) if out.status.success() => {
                    let cells: Vec<u64> = row
                        .split('|')
                        .filter_map(|c| c.trim().parse().ok())
                        .collect();
                    if let [_, cpu, user, ..] = cells[..] {
                        results[i].push((cpu, user));
                    }
                    rows[i] = row.to_owned();
                }
                _ => {
                    rows[i] = format!(
                        "| `{stack}` | failed: {} |",
                        errors.lines().last().unwrap_or("")
                    )
                }
            }
            notes[i].extend(
                errors
                    .lines()
                    .filter(|l| l.starts_with("note:"))
                    .map(str::to_owned),
            );
        }
    }
    if rounds == 1 {
        println!("| stack | spans | CPU per span (ns) | of which user (ns) | wall (s) |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        for (row, notes) in rows.iter().zip(&notes) {
            println!("{row}");
            notes.iter().for_each(|note| println!("{note}"));
        }
        return;
    }
    println!("| stack | CPU per span, median of {rounds} (ns) | range (ns) | user, median (ns) |");
    println!("| --- | ---: | ---: | ---: |");
    for ((stack, runs), row) in stacks.iter().zip(&mut results).zip(&rows) {
        if runs.len() < rounds as usize {
            println!("{row}");
            continue;
        }
        let median = |values: &mut Vec<u64>| {
            values.sort_unstable();
            values[values.len() / 2]
        };
        let mut cpu: Vec<u64> = runs.iter().map(|r| r.0).collect();
        let mut user: Vec<u64> = runs.iter().map(|r| r.1).collect();
        let (low, high) = (*cpu.iter().min().unwrap(), *cpu.iter().max().unwrap());
        println!(
            "| `{stack}` | {} | {low}–{high} | {} |",
            median(&mut cpu),
            median(&mut user)
        );
    }
    // Each stack's notes from its last round.
    for (stack, notes) in stacks.iter().zip(&notes) {
        let per_round = notes.len() / rounds as usize;
        for note in &notes[notes.len() - per_round..] {
            println!("{note} ({stack})");
        }
    }
}

/// CPU time of the whole process so far: (user + system, user), in nanoseconds.
pub(crate) fn cpu() -> (u64, u64) {
    // SAFETY: getrusage writes into the struct we hand it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let nanos = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    let user = nanos(usage.ru_utime);
    (user + nanos(usage.ru_stime), user)
}

/// Makes `spans_per_trace`-span traces with `make`, 1 ms worth at a time, at `rate`
/// spans a second for `seconds`, after 1,000 traces of warm-up; `flush` before and
/// after. Prints the stack's row and returns the number of spans measured; with
/// `PER_THREAD=1` in the environment, also each thread's share, as `note:` lines.
pub(crate) fn paced(
    stack: &str,
    spans_per_trace: u64,
    rate: u64,
    seconds: u64,
    make: &mut dyn FnMut(),
    flush: &dyn Fn(),
) -> u64 {
    // Warm up outside the measurement: clocks calibrated, threads started, buffers grown.
    for _ in 0..1_000 {
        make();
    }
    flush();
    let threads_before = per_thread();
    let traces_per_ms = (rate / spans_per_trace / 1_000).max(1);
    let (cpu_before, user_before) = cpu();
    let started = Instant::now();
    let mut traces = 0u64;
    for tick in 1..=seconds * 1_000 {
        for _ in 0..traces_per_ms {
            make();
        }
        traces += traces_per_ms;
        let next = started + Duration::from_millis(tick);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    flush();
    let wall = started.elapsed();
    let (cpu_after, user_after) = cpu();
    let spans = traces * spans_per_trace;
    println!(
        "| `{stack}` | {spans} | {} | {} | {:.2} |",
        (cpu_after - cpu_before) / spans,
        (user_after - user_before) / spans,
        wall.as_secs_f64()
    );
    if std::env::var_os("PER_THREAD").is_some() {
        for (task, name, after) in per_thread() {
            let before = threads_before
                .iter()
                .find(|(t, ..)| *t == task)
                .map_or(0, |(.., run)| *run);
            eprintln!("note: {name:>20}: {} ns/span", (after - before) / spans);
        }
    }
    spans
}

/// Each thread of this process: its id, its name and the nanoseconds it has run (from
/// `/proc/self/task/*/schedstat`), for the breakdown `PER_THREAD=1` prints.
fn per_thread() -> Vec<(String, String, u64)> {
    let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten();
    tasks
        .flatten()
        .map(|task| {
            let read =
                |file: &str| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
            let run = read("schedstat")
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let id = task.file_name().to_string_lossy().into_owned();
            (id, read("comm").trim().to_owned(), run)
        })
        .collect()
}
