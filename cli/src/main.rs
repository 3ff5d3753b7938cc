//! `vmem`: what virtual memory does on this machine, shown live, and how the vmem crate
//! compares with what you use today.

mod bench;
mod chart;
mod format;
mod info;
mod output;
mod sys;
mod tour;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "vmem", version, about = "Virtual memory on this machine: facts, a live tour, benchmarks")]
#[command(after_help = "Examples:\n  vmem info\n  vmem tour\n  vmem bench --quick")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Page size, huge pages, overcommit, physical memory, address space and the limits that matter
    #[command(after_help = "Examples:\n  vmem info\n  vmem info --json | jq .page_size")]
    Info {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Reserve, commit, touch, decommit, an arena, a vector and a ring buffer, for real, with what the OS reports after each step
    #[command(
        after_help = "Examples:\n  vmem tour\n  vmem tour --svg charts/\n\nRuns in a few seconds and uses up to about 1.3 GiB of memory at its peak."
    )]
    Tour {
        /// Print the steps as JSON
        #[arg(long)]
        json: bool,
        /// Write a chart of RSS, commit charge and mapped bytes per step (tour.svg) into this directory
        #[arg(long, value_name = "DIR")]
        svg: Option<PathBuf>,
    },
    /// Compare vmem with bumpalo, Vec, slab, VecDeque and direct system calls, interleaved in one process
    #[command(
        after_help = "Examples:\n  vmem bench --quick\n  vmem bench --rounds 11 --svg charts/\n  vmem bench --json > results.json"
    )]
    Bench {
        /// Small workloads and 3 rounds: a few seconds
        #[arg(long)]
        quick: bool,
        /// Rounds per comparison (default: 7, or 3 with --quick)
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        rounds: Option<u16>,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Write a summary chart (summary.svg) and one chart per comparison into this directory
        #[arg(long, value_name = "DIR")]
        svg: Option<PathBuf>,
    },
}

/// Exit codes: 0 for success, 1 when a command fails, and 2 for a usage error (clap's
/// convention, from `Cli::parse`).
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info { json } => info::run(json),
        Command::Tour { json, svg } => tour::run(json, svg.as_deref()),
        Command::Bench { quick, rounds, json, svg } => bench::run(quick, rounds.map(usize::from), json, svg.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the context chain, outermost first.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
