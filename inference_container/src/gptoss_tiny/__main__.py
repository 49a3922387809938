"""python -m gptoss_tiny build --kind chat --out DIR [--if-missing] | tiktoken --out FILE"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gptoss_tiny.checkpoint import build_checkpoint, ensure_at
from gptoss_tiny.script import KINDS
from gptoss_tiny.tokenizer import O200K_FILENAME, write_tiktoken_file


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gptoss_tiny", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="write a tiny gpt-oss model directory")
    build.add_argument("--kind", choices=KINDS, required=True)
    build.add_argument("--out", type=Path, required=True, help="model directory to write")
    build.add_argument(
        "--tokenizer-cache", type=Path, default=None, help="directory caching tokenizer.json"
    )
    build.add_argument(
        "--if-missing",
        action="store_true",
        help="keep OUT if it holds a current build; otherwise build it atomically "
        "(tokenizer cached next to OUT unless --tokenizer-cache is given)",
    )

    tiktoken = commands.add_parser("tiktoken", help=f"write {O200K_FILENAME}")
    tiktoken.add_argument("--out", type=Path, required=True, help="file (or directory) to write")

    args = parser.parse_args(argv)
    if args.command == "build" and args.if_missing:
        cache = args.tokenizer_cache or args.out.parent / ".tokenizer"
        out = ensure_at(args.out, args.kind, tokenizer_cache=cache)
    elif args.command == "build":
        out = build_checkpoint(args.out, args.kind, tokenizer_cache=args.tokenizer_cache)
    else:
        out = args.out / O200K_FILENAME if args.out.is_dir() else args.out
        write_tiktoken_file(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
