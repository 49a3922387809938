"""The ``gptoss-aws`` command line: subcommands come from ``gptoss_aws._cli_commands``.

Each of the modules named in COMMAND_MODULES registers its subcommand (see
``_cli_commands/__init__.py`` for the contract). One that is missing, or fails to import
because an optional dependency is absent, leaves the other commands working.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gptoss_aws.errors import GptOssError

COMMAND_MODULES = ("costs", "prices", "advise", "chat")

logger = logging.getLogger("gptoss_aws.cli")


def build_parser() -> argparse.ArgumentParser:
    from gptoss_aws import __version__

    parser = argparse.ArgumentParser(
        prog="gptoss-aws",
        description="gpt-oss on SageMaker, Bedrock and OpenAI-compatible servers, with costs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module_name = f"gptoss_aws._cli_commands.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not written / not shipped: just no such command
            logger.warning("command %r unavailable: %s", name, exc)
            continue
        except ImportError as exc:
            logger.warning("command %r unavailable: %s", name, exc)
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except GptOssError as exc:
        print(f"gptoss-aws: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
