//! Measuring: CPU time, resident memory, the machine, the results table.

use std::time::Duration;

use serde_json::{Value, json};

/// This process's CPU time (user + system), from /proc (Linux; zero elsewhere).
pub(crate) fn cpu_time() -> Duration {
    stat_ticks("/proc/self/stat", 11) + stat_ticks("/proc/self/stat", 12)
}

/// The calling thread's CPU time (user + system), from /proc (Linux; zero elsewhere), to
/// a hundredth of a second: for totals over many calls.
pub(crate) fn thread_cpu_time() -> Duration {
    stat_ticks("/proc/thread-self/stat", 11) + stat_ticks("/proc/thread-self/stat", 12)
}

/// The CPU time (user + system) of this process's children that have been waited for.
pub(crate) fn children_cpu_time() -> Duration {
    stat_ticks("/proc/self/stat", 13) + stat_ticks("/proc/self/stat", 14)
}

/// One clock-tick field of a /proc `stat` file, counted after the command name.
fn stat_ticks(file: &str, index: usize) -> Duration {
    let Ok(stat) = std::fs::read_to_string(file) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    // utime, stime, cutime, cstime are fields 14 to 17 of the line, 11 to 14 after the
    // name (counting from 0); in clock ticks of 1/100 s on Linux.
    let ticks = rest
        .split_whitespace()
        .nth(index)
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Peak resident memory (VmHWM) of a process, in KiB.
pub(crate) fn peak_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// What this machine is: the CPU as the VM shows it (the model name alone does not tell
/// one generation of a vendor's server CPUs from the next, the family and model numbers
/// do), its cores and memory.
pub(crate) fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    json!({
        "cpu": field("model name"),
        "cpu_family": field("cpu family"),
        "cpu_model": field("model"),
        "cache": field("cache size"),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "os": std::env::consts::OS,
    })
}

/// The machine in one line, printed above the results table.
pub(crate) fn machine_line(machine: &Value) -> String {
    let text = |key: &str| machine[key].as_str().unwrap_or_default().to_owned();
    format!(
        "machine: {} (family {}, model {}, cache {}), {} cores, {} GiB, {}",
        text("cpu"),
        text("cpu_family"),
        text("cpu_model"),
        text("cache"),
        machine["cores"],
        machine["memory_gib"],
        text("os"),
    )
}

/// One number.
pub(crate) struct Result {
    pub(crate) benchmark: &'static str,
    pub(crate) subject: String,
    pub(crate) value: f64,
    pub(crate) unit: &'static str,
    pub(crate) goal: Option<String>,
}

impl Result {
    pub(crate) fn new(
        benchmark: &'static str,
        subject: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Self {
            benchmark,
            subject: subject.into(),
            value,
            unit,
            goal: None,
        }
    }

    pub(crate) fn goal(mut self, goal: impl Into<String>) -> Self {
        self.goal = Some(goal.into());
        self
    }

    pub(crate) fn json(&self) -> Value {
        json!({"benchmark": self.benchmark, "subject": self.subject, "value": self.value, "unit": self.unit, "goal": self.goal})
    }
}

/// Prints the results as a table.
pub(crate) fn print_table(results: &[Result]) {
    println!(
        "{:<12} {:<44} {:>14} {:<12} goal",
        "benchmark", "subject", "value", "unit"
    );
    for r in results {
        let value = if r.value.abs() >= 100.0 {
            format!("{:.0}", r.value)
        } else {
            format!("{:.3}", r.value)
        };
        println!(
            "{:<12} {:<44} {:>14} {:<12} {}",
            r.benchmark,
            r.subject,
            value,
            r.unit,
            r.goal.as_deref().unwrap_or("")
        );
    }
}

/// Whether `value` meets a goal written as `>= 0.80`, `<= 1.10`, `< 64` or `0`.
pub(crate) fn meets(value: f64, goal: &str) -> Option<bool> {
    let goal = goal.trim();
    let (op, number) = ["<=", ">=", "<", ">", "="]
        .iter()
        .find_map(|op| goal.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("=", goal));
    let number: f64 = number.trim().parse().ok()?;
    Some(match op {
        "<=" => value <= number,
        ">=" => value >= number,
        "<" => value < number,
        ">" => value > number,
        _ => (value - number).abs() < 1e-9,
    })
}

/// The results that have a goal, as the Markdown table docs/performance.md shows.
pub(crate) fn markdown(machine: &Value, results: &[Result]) -> String {
    let mut text = format!("{}\n\n", machine_line(machine));
    text.push_str(
        "| benchmark | subject | value | unit | goal | met |\n|---|---|---:|---|---|---|\n",
    );
    for r in results.iter().filter(|r| r.goal.is_some()) {
        let goal = r.goal.as_deref().unwrap_or_default();
        let value = if r.value.abs() >= 100.0 {
            format!("{:.0}", r.value)
        } else {
            format!("{:.3}", r.value)
        };
        let met = match meets(r.value, goal) {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        text.push_str(&format!(
            "| {} | {} | {value} | {} | {goal} | {met} |\n",
            r.benchmark, r.subject, r.unit
        ));
    }
    text
}
