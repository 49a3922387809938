"""Subcommands of ``gptoss-aws``, one module each (costs, prices, advise, chat).

Contract: a module defines ``register(subparsers)``, which adds its parser with
``subparsers.add_parser(name, help=...)`` and sets ``parser.set_defaults(func=run)``, where
``run(args: argparse.Namespace) -> int`` returns the exit status. GptOssError raised by
``run`` is printed as ``gptoss-aws: error: ...`` with status 1, so commands need not catch
it. Commands print results to stdout and diagnostics to stderr.
"""
