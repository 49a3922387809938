"""``gptoss-aws chat``: one call to an endpoint, Bedrock or a server, with what it cost.

    gptoss-aws chat --bedrock gpt-oss-120b --region us-west-2 --stream "Why is the sky blue?"
    gptoss-aws chat --sagemaker my-endpoint --reasoning-effort high "..."
    gptoss-aws chat --base-url http://127.0.0.1:8080 --allow-unpriced "Hi"

Reasoning is printed first, labelled (and dimmed on a terminal), then the answer, then
the usage and the cost. Calls are recorded in the ledger like any client call unless
``--no-track``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TextIO

from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.types import ChatCompletion, Cost, ToolCall, Usage
from gptoss_facts.text import usd

if TYPE_CHECKING:
    from gptoss_aws._resources import TrackerLike
    from gptoss_aws.backends.base import BackendBase
    from gptoss_aws.client import GptOss

TrackerFactory = Callable[[argparse.Namespace], "TrackerLike | None"]


def register(
    subparsers: argparse._SubParsersAction[Any], tracker_factory: TrackerFactory | None = None
) -> None:
    """Add ``chat``. ``tracker_factory(args)`` replaces the default ledger tracker."""
    parser = subparsers.add_parser(
        "chat",
        help="send one prompt and print the reasoning, the answer, usage and cost",
        description="Send one prompt to gpt-oss and print reasoning, answer, usage and cost.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    for backend in _cli_backends():
        where.add_argument(backend.cli_flag, metavar=backend.cli_metavar, help=backend.cli_help)
    parser.add_argument("prompt", help="the user message ('-' reads it from standard input)")
    parser.add_argument("--system", help="a developer (system) message to send first")
    parser.add_argument("--stream", action="store_true", help="print the answer as it comes")
    parser.add_argument("--reasoning-effort", choices=("low", "medium", "high"))
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--region", help="AWS region (default: the boto3 chain)")
    parser.add_argument("--inference-component", help="SageMaker: the inference component")
    parser.add_argument("--instance-type", help="SageMaker: the instance type, for the cost")
    parser.add_argument("--model", help="the served model's name (SageMaker, --base-url)")
    parser.add_argument("--api-key", default=None, help="--base-url: a bearer token")
    parser.add_argument(
        "--price-in", type=_usd, metavar="USD", help="--base-url: input price per 1M tokens"
    )
    parser.add_argument(
        "--price-out", type=_usd, metavar="USD", help="--base-url: output price per 1M tokens"
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tag the call (repeatable), e.g. --tag team=search",
    )
    parser.add_argument("--hide-reasoning", action="store_true", help="do not print reasoning")
    parser.add_argument("--no-track", action="store_true", help="do not record the call")
    parser.add_argument(
        "--allow-unpriced",
        action="store_true",
        help="record the call as unpriced when no price is known, instead of refusing it",
    )
    parser.add_argument("--ledger", help="ledger file or URL (default: the local ledger)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--max-retries", type=int, default=2)
    parser.set_defaults(func=lambda args: run(args, tracker_factory=tracker_factory))


def _cli_backends() -> list[type[BackendBase]]:
    """The backends that declare a flag selecting them (``BackendBase.cli_flag``)."""
    from gptoss_aws.backends.registry import backend_classes

    return [backend for backend in backend_classes() if backend.cli_flag]


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")  # as argparse derives it


def _usd(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}")
    return value


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--tag takes KEY=VALUE, got {pair!r}")
        tags[key] = value
    return tags


def default_tracker(args: argparse.Namespace) -> TrackerLike | None:
    if args.no_track:
        return None
    from gptoss_aws.ledger import open_ledger
    from gptoss_aws.tracking import Tracker

    return Tracker(ledger=open_ledger(args.ledger), allow_unpriced=args.allow_unpriced)


def build_client(args: argparse.Namespace, tracker: TrackerLike | None) -> GptOss:
    from gptoss_aws.client import GptOss

    tags = _tags(args.tag)
    for backend_class in _cli_backends():
        assert backend_class.cli_flag is not None  # _cli_backends keeps only these
        value = getattr(args, _dest(backend_class.cli_flag), None)
        if value:
            return GptOss(
                backend_class.from_cli(value, args),
                tracker=tracker,
                tags=tags,
                max_retries=args.max_retries,
            )
    flags = ", ".join(str(b.cli_flag) for b in _cli_backends())
    raise ConfigurationError(f"say where to send the prompt: one of {flags}")


def run(
    args: argparse.Namespace,
    *,
    tracker_factory: TrackerFactory | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    messages = [{"role": "user", "content": prompt}]
    if args.system:
        messages.insert(0, {"role": "developer", "content": args.system})
    tracker = (tracker_factory or default_tracker)(args)
    view = _View(out, show_reasoning=not args.hide_reasoning)
    request: dict[str, Any] = {
        "messages": messages,
        "reasoning_effort": args.reasoning_effort,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
    }
    with build_client(args, tracker) as client:
        try:
            if args.stream:
                with client.chat.completions.create(stream=True, **request) as stream:
                    for chunk in stream:
                        for choice in chunk.choices:
                            view.reasoning(choice.delta.reasoning)
                            view.content(choice.delta.content)
                    answer = stream.final_completion()
            else:
                answer = client.chat.completions.create(**request)
                message = answer.choices[0].message
                view.reasoning(message.reasoning)
                view.content(message.content)
        except UnpricedError as exc:
            raise UnpricedError(
                f"{exc} (on the command line: --allow-unpriced, --no-track, or for --base-url "
                "--price-in/--price-out)"
            ) from exc
    view.end(answer)
    return 0


class _View:
    """Prints reasoning (labelled, dimmed on a terminal), the answer, usage and cost."""

    def __init__(self, out: TextIO, *, show_reasoning: bool) -> None:
        self.out = out
        self.show_reasoning = show_reasoning
        color = out.isatty() and not os.environ.get("NO_COLOR")
        self.dim, self.reset = ("\x1b[2m", "\x1b[0m") if color else ("", "")
        self.section: str | None = None

    def _enter(self, section: str) -> None:
        if self.section == section:
            return
        if self.section is not None:
            self.out.write(f"{self.reset}\n\n")
        if section == "reasoning":
            self.out.write(f"{self.dim}reasoning: ")
        self.section = section

    def reasoning(self, text: str | None) -> None:
        if text and self.show_reasoning:
            self._enter("reasoning")
            self.out.write(text)
            self.out.flush()

    def content(self, text: str | None) -> None:
        if text:
            self._enter("content")
            self.out.write(text)
            self.out.flush()

    def end(self, answer: ChatCompletion) -> None:
        if self.section is not None:
            self.out.write(f"{self.reset}\n")
        choice = answer.choices[0]
        for call in choice.message.tool_calls or ():
            self.out.write(_tool_line(call) + "\n")
        self.out.write("\n" + usage_line(answer.usage, choice.finish_reason) + "\n")
        self.out.write(cost_line(answer.cost) + "\n")
        self.out.flush()


def _tool_line(call: ToolCall) -> str:
    return f"tool call {call.function.name}({call.function.arguments})  [{call.id}]"


def usage_line(usage: Usage, finish_reason: str | None = None) -> str:
    line = (
        f"usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens "
        f"({usage.reasoning_tokens} reasoning"
        + (", estimated" if (usage.model_extra or {}).get("reasoning_tokens_estimated") else "")
        + ")"
    )
    return line + (f", finish: {finish_reason}" if finish_reason else "")


def cost_line(cost: Cost | None) -> str:
    if cost is None:
        return "cost: not tracked"
    if cost.usd is not None:
        source = f" ({cost.price_source})" if cost.price_source else ""
        return f"cost: {_call_usd(cost.usd)}{source}"
    if cost.basis == "instance_hours":
        return (
            "cost: a share of the endpoint's instance-hours, allocated over a window by "
            "`gptoss-aws costs`"
        )
    return "cost: unpriced (no price known: see `gptoss-aws prices`)"


def _call_usd(amount: Decimal) -> str:
    # Per-call amounts are often fractions of a cent: show enough digits to be non-zero.
    if amount == 0 or amount >= Decimal("0.01"):
        return usd(amount, 4)
    return usd(amount, 8, trim=True)
