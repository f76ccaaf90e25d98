"""Where the time goes: py-spy sampling the replication path's processes, when it is installed (it is
not a project dependency: `pip install py-spy` into the venv)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path


def py_spy_path() -> str | None:
    candidate = Path(sys.executable).with_name("py-spy")
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


class Profiler:
    """py-spy sampling the named processes (100 Hz, without pausing them) until stop(); then each
    one's busiest functions: self time (the innermost frame) and inclusive time (anywhere on the stack)."""

    def __init__(self, workdir: Path, pids: dict[str, int]):
        self.tool = py_spy_path()
        self.outputs: dict[str, Path] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        if self.tool is None:
            print("  py-spy is not installed (pip install py-spy into the venv): no profile", flush=True)
            return
        workdir.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            output = workdir / f"{re.sub(r'[^a-z]+', '-', name.lower()).strip('-')}.txt"
            self.outputs[name] = output
            self.processes[name] = subprocess.Popen(
                [self.tool, "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--format", "raw"]
                + ["--output", str(output)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> dict[str, dict]:
        for process in self.processes.values():
            process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return {name: top_functions(path) for name, path in self.outputs.items() if path.exists()}


FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame_name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    parts = Path(match.group("file")).parts
    return f"{match.group('function')} ({'/'.join(parts[-2:])})"


def top_functions(path: Path, count: int = 12) -> dict:
    """Samples per function from py-spy's raw (collapsed stacks) output, idle threads left out."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = [_frame_name(frame) for frame in stack.split(";") if frame.strip()]
        if not frames:
            continue
        samples_count = int(samples)
        total += samples_count
        own[frames[-1]] = own.get(frames[-1], 0) + samples_count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + samples_count

    def top(table: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(table.items(), key=lambda pair: -pair[1])[:count]
        return [(name, round(samples / 100, 2)) for name, samples in ranked]  # 100 samples per second

    return {"busy_seconds": round(total / 100, 2), "self": top(own), "inclusive": top(inclusive)}


def format_profile(profile: dict[str, dict], shown: int = 8) -> list[str]:
    lines = ["  py-spy, seconds of samples on a busy thread (100 Hz; idle threads not sampled):"]
    for name, data in profile.items():
        lines.append(f"   {name}: {data['busy_seconds']} s")
        lines.append("     self: " + "; ".join(f"{function} {seconds}" for function, seconds in data["self"][:shown]))
        lines.append(
            "     inclusive: " + "; ".join(f"{function} {seconds}" for function, seconds in data["inclusive"][:shown])
        )
    return lines
