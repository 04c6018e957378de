"""Run every bash and python block of the user's manual, unchanged, in order, and say which passed.

    .venv/bin/python tests/manual/run_manual.py [--workdir DIR] [--only 3,5-7] [--list] [--manual PATH]

The blocks run in a fresh folder prepared by `product-infer export-sample` (the sample data in
every format the manual reads), with the repository's `training/`, `inference/` and `tests/`
linked in so that the commands' relative paths resolve as from a checkout, and with:
- their own local home (PRODUCT_INFERENCE_HOME in the folder, bootstrapped by export-sample);
- an AWS config and credentials file defining the `ml-sandbox` profile (us-east-1), which is also
  the default profile (AWS_PROFILE), as the manual's prerequisites assume: once the LLM is deployed,
  commands that pass no --aws-profile (calibration analysis, benchmark, Python blocks) call Bedrock;
- AWS_ENDPOINT_URL at a `moto_server` started here on loopback (and stopped at the end), with the
  manual's buckets and the deployment settings created (tests/manual/local_aws.py);
- AWS_ENDPOINT_URL_BEDROCK and AWS_ENDPOINT_URL_BEDROCK_RUNTIME at the local stand-in for what moto
  lacks (tests/manual/aws_standin.py), which passes everything else on to moto.
Bash blocks run with `bash -eo pipefail` and the venv first on PATH (`python` is the venv's);
python blocks with the venv's python, after their prelude (tests/manual/preludes.py) where they
use what the manual never defines. Torch and faiss run on one thread a process
(OMP_NUM_THREADS=1: the blocks' small models train as fast on one, and more threads spin against
each other on a 2-core CI machine). A block passes when it exits 0, prints no placeholder result, every
file its commands say they write (--output, --failure-output) exists and is not empty, and, for
python blocks, what it assigns is not empty and each unconditional print printed (tests/manual/checks.py).

One line per block (number, section, first line, passed/FAILED, seconds, stand-in calls, prelude)
and a total; the exit status is 1 when any block failed. Each block's script and log stay in
<workdir>/blocks/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.manual.checks import (declared_outputs, missing_outputs, placeholder_lines,  # noqa: E402
                                 top_level_prints)
from tests.manual.local_aws import PROFILE  # noqa: E402
from tests.manual.manual_blocks import MANUAL, Block, read_blocks  # noqa: E402

BIN = Path(sys.executable).parent
LINKED = ("training", "inference", "tests")  # the code the manual's relative paths name
BLOCK_TIMEOUT = 900
# Variables of the caller that must not leak into the blocks' account or home.
DROPPED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
           "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "PRODUCT_INFERENCE_HOME", "VIRTUAL_ENV",
           "PYTHONPATH")


@dataclass
class Result:
    number: int
    block: Block
    passed: bool
    seconds: float
    problems: list[str] = field(default_factory=list)
    standin: Counter = field(default_factory=Counter)
    prelude: str | None = None
    log: Path | None = None

    def line(self) -> str:
        where = f"{self.block.section} › {self.block.subsection}" if self.block.subsection else self.block.section
        first = self.block.first_line if len(self.block.first_line) <= 70 else self.block.first_line[:67] + "..."
        notes = []
        if self.standin:
            notes.append("stand-in: " + ", ".join(f"{op}×{n}" for op, n in sorted(self.standin.items())))
        if self.prelude:
            notes.append(f"prelude: {self.prelude}")
        status = "passed" if self.passed else "FAILED"
        return (f"[{self.number:02d}] {status:6s} {self.seconds:6.1f}s  {self.block.language:6s} {where} | {first}"
                + (f"  ({'; '.join(notes)})" if notes else ""))


def runnable_blocks(manual: Path = MANUAL) -> list[Block]:
    """The manual's bash and python blocks, in the order they appear."""
    return [b for b in read_blocks(manual) if b.language in ("bash", "python")]


def parse_selection(text: str | None, count: int) -> list[int]:
    """`--only 1,3-5` as block numbers (1-based); all blocks when empty."""
    if not text:
        return list(range(1, count + 1))
    chosen: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        chosen += range(int(low), int(high or low) + 1)
    bad = [n for n in chosen if not 1 <= n <= count]
    if bad:
        raise ValueError(f"no block {bad[0]}: the manual has {count} bash/python blocks")
    return sorted(set(chosen))


def prepare_folder(workdir: Path) -> tuple[Path, Path]:
    """The blocks' folder (code linked in) and their home; export-sample fills the folder."""
    folder, home = workdir / "work", workdir / "home"
    folder.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = folder / name
        if not link.exists():
            link.symlink_to(ROOT / name, target_is_directory=True)
    return folder, home


def block_environment(home: Path, aws_files: dict[str, str], moto_url: str, standin_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and not k.startswith("AWS_ENDPOINT_URL")}
    env.update(aws_files)
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PRODUCT_INFERENCE_HOME=str(home), AWS_PROFILE=PROFILE,
               AWS_ENDPOINT_URL=moto_url, AWS_ENDPOINT_URL_BEDROCK=standin_url,
               AWS_ENDPOINT_URL_BEDROCK_RUNTIME=standin_url, PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="160",
               TERM="dumb", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_block(number: int, block: Block, folder: Path, scripts: Path, env: dict[str, str], standin) -> Result:
    """Run one block unchanged; check its exit, its declared outputs and, for python, its results."""
    suffix = "sh" if block.language == "bash" else "py"
    script = scripts / f"{number:02d}-{block.language}.{suffix}"
    script.write_text(block.code + "\n", encoding="utf-8")
    log = scripts / f"{number:02d}.log"
    report = scripts / f"{number:02d}.report.json"
    if block.language == "bash":
        command = ["bash", "-eo", "pipefail", str(script)]
    else:
        command = [str(BIN / "python"), str(ROOT / "tests" / "manual" / "exec_block.py"), str(script), str(report)]
    before = standin.calls()
    started = time.perf_counter()
    with log.open("wb") as out:  # written as it runs, so a long block can be watched
        try:
            code = subprocess.run(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=BLOCK_TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            code = f"timeout after {BLOCK_TIMEOUT} s"
    seconds = time.perf_counter() - started
    output = log.read_text(encoding="utf-8", errors="replace")
    problems = [] if code == 0 else [f"exit status {code}"]
    if code == 0:
        problems += [f"printed a placeholder: {line.strip()!r}" for line in placeholder_lines(output)]
    if block.language == "bash":
        problems += missing_outputs(declared_outputs(block.code), folder)
    prelude = None
    if block.language == "python" and report.is_file():
        checked = json.loads(report.read_text(encoding="utf-8"))
        prelude = checked.get("prelude")
        if code == 0:
            problems += [f"{name} {why}" for name, why in checked["empty"].items()]
            printed = [line for line in output.splitlines() if line.strip()]
            if len(printed) < top_level_prints(block.code):
                problems.append(f"printed {len(printed)} line(s); the block prints {top_level_prints(block.code)}")
    used = standin.calls() - before
    return Result(number, block, not problems, seconds, problems, used, prelude, log)


def run_manual(workdir: Path, selection: list[int] | None = None, manual: Path = MANUAL, echo=print) -> list[Result]:
    from tests.manual.aws_standin import StandinServer
    from tests.manual.local_aws import moto_server, prepare_account, write_profile

    blocks = runnable_blocks(manual)
    numbers = selection or list(range(1, len(blocks) + 1))
    folder, home = prepare_folder(workdir)
    scripts = workdir / "blocks"
    scripts.mkdir(exist_ok=True)
    aws_files = write_profile(workdir / "aws")
    results: list[Result] = []
    with moto_server(workdir / "moto.log") as moto_url, StandinServer(moto_url) as standin:
        made = prepare_account(moto_url, manual.read_text(encoding="utf-8"))
        echo(f"moto_server at {moto_url}; stand-in at {standin.url}; buckets {', '.join(made['buckets'])}; "
             f"parameters {', '.join(made['parameters'])}")
        env = block_environment(home, aws_files, moto_url, standin.url)
        started = time.perf_counter()
        exported = subprocess.run([str(BIN / "product-infer"), "export-sample", "."], cwd=folder, env=env,
                                  capture_output=True, text=True)
        if exported.returncode != 0:
            raise RuntimeError(f"export-sample failed:\n{exported.stdout}{exported.stderr}")
        echo(f"export-sample prepared {folder} and the home {home} in {time.perf_counter() - started:.1f} s")
        for number in numbers:
            result = run_block(number, blocks[number - 1], folder, scripts, env, standin)
            results.append(result)
            echo(result.line())
            for problem in result.problems:
                echo(f"       {problem}")
            if not result.passed:
                tail = result.log.read_text(encoding="utf-8").strip().splitlines()[-15:]
                echo("\n".join(f"       | {line}" for line in tail))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="Folder for the run (default: a new temporary folder, kept).")
    parser.add_argument("--only", help="Block numbers to run, e.g. 1-5,9 (default: all, in order).")
    parser.add_argument("--list", action="store_true", help="List the blocks and exit.")
    parser.add_argument("--manual", type=Path, default=MANUAL, help="The manual (default: %(default)s).")
    args = parser.parse_args(argv)
    blocks = runnable_blocks(args.manual)
    if args.list:
        for number, block in enumerate(blocks, start=1):
            print(f"[{number:02d}] {block.language:6s} {block.section} › {block.subsection} | {block.first_line}")
        return 0
    selection = parse_selection(args.only, len(blocks))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="manual-run-"))
    if args.workdir and args.workdir.exists() and any(args.workdir.iterdir()):
        parser.error(f"--workdir {args.workdir} is not empty: the blocks run in a fresh folder")
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"Running {len(selection)} of {len(blocks)} blocks of {args.manual} in {workdir}")
    started = time.perf_counter()
    results = run_manual(workdir, selection, args.manual)
    failed = [r for r in results if not r.passed]
    print(f"Total: {len(results) - len(failed)} passed, {len(failed)} failed in {time.perf_counter() - started:.1f} s"
          + (f" (failed: {', '.join(str(r.number) for r in failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
