"""The tiny gpt-oss checkpoints: tokenizer fidelity, files, and the scripted replies.

Runs in the engine venv with plain torch/transformers (seconds). The real vLLM server is
exercised by the serving tests, which build their models through the same ensure_checkpoint.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from openai_harmony import (
    Author,
    Conversation,
    DeveloperContent,
    Message,
    ReasoningEffort,
    Role,
    StreamableParser,
    SystemContent,
    ToolDescription,
)
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from gptoss_tiny.__main__ import main
from gptoss_tiny.checkpoint import BUILD_MARKER, MODEL_FILES, build_checkpoint, ensure_checkpoint
from gptoss_tiny.program import Lookback, compile_program
from gptoss_tiny.script import (
    AGENT_ANSWER,
    CHAT_CONTENT,
    CHAT_REASONING,
    PROMPT_TAIL,
    TOOL_ARGUMENTS,
    TOOL_NAME,
    TOOL_REASONING,
    TOOL_RECIPIENT,
    ScriptedKind,
    encode,
    expected,
    expected_answer,
)
from gptoss_tiny.tokenizer import (
    O200K_SHA256,
    VOCAB_SIZE,
    harmony_encoding,
    special_tokens,
    tokenizer_json,
    write_tiktoken_file,
)
from gptoss_tiny.weights import (
    MIN_MARGIN_FRACTION,
    PEAK_ATTENTION_LOGIT,
    lookback_query_key,
    rotary_frequencies,
)

# A scripted token must beat every other token by this many logits at every step. The design
# gives >= 32 (weights.ALPHA); 20 leaves room for bf16 and kernel differences while still
# meaning "greedy is never close to a tie, even at temperature 1".
MIN_LOGIT_MARGIN = 20.0
WEATHER_TOOL = ToolDescription.new(
    TOOL_NAME,
    "Get the current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Share the cache with the serving tests when the Makefile provides one.
    shared = os.environ.get("TINY_CACHE")
    return Path(shared) if shared else tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def model_dirs(cache_dir: Path) -> dict[ScriptedKind, Path]:
    return {kind: ensure_checkpoint(cache_dir, kind) for kind in ("chat", "tool", "agent")}


@pytest.fixture(scope="session")
def models(model_dirs: dict[ScriptedKind, Path]) -> dict[ScriptedKind, Any]:
    loaded = {}
    for kind, path in model_dirs.items():
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
        loaded[kind] = model.eval()
    return loaded


# --- tokenizer -------------------------------------------------------------------------


def test_tiktoken_file_is_the_published_o200k_base(tmp_path: Path) -> None:
    path = write_tiktoken_file(tmp_path / "o200k_base.tiktoken")
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == O200K_SHA256
    assert data.count(b"\n") == 199998


def _text_samples() -> list[str]:
    code = inspect.getsource(json.decoder) + inspect.getsource(textwrap)
    return [
        "Hello, world! How are you doing today?",
        "naïve café — 東京タワー, 북한산, Ünïcödé ΑΒΓ абв עברית العربية हिन्दी 🚀🔥👍🏽",
        "numbers 1234567890 3.14159 -42 1,000,000 0x1F 1e-9 2025-06-28",
        "   leading, internal    runs\t\tof tabs \n\n\n and trailing   ",
        "I'm sure you'LL see they've said WE'D rather not; it's O'Neil's",
        "windows\r\nline\r\n\r\nendings\rand lone CRs",
        "url https://example.com/a/b?c=1&d=two#frag and email a.b@c.de",
        "\u200b zero width \u00a0 nbsp \ufeff bom",
        code,
    ]


def test_hf_tokenizer_encodes_and_decodes_like_harmony(model_dirs: dict[str, Path]) -> None:
    hf = AutoTokenizer.from_pretrained(model_dirs["chat"])
    enc = harmony_encoding()
    for text in _text_samples():
        ids = hf.encode(text, add_special_tokens=False)
        assert ids == enc.encode(text), text[:60]
        assert hf.decode(ids) == text


def test_special_tokens_have_the_harmony_ids(model_dirs: dict[str, Path]) -> None:
    hf = AutoTokenizer.from_pretrained(model_dirs["chat"])
    enc = harmony_encoding()
    assert len(hf) == VOCAB_SIZE
    for token_id, name in special_tokens().items():
        assert enc.decode([token_id]) == name
        assert hf.convert_tokens_to_ids(name) == token_id
    rendered = _render("chat", "Hello there", ReasoningEffort.MEDIUM)
    assert hf.encode(enc.decode(rendered), add_special_tokens=False) == rendered
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id) == (199998, 200002, 199999)


def test_tokenizer_json_builds_identically_twice() -> None:
    assert tokenizer_json.__wrapped__() == tokenizer_json()


# --- checkpoint files ------------------------------------------------------------------


def test_checkpoint_has_the_gpt_oss_config_and_loads_without_missing_weights(
    model_dirs: dict[str, Path],
) -> None:
    path = model_dirs["chat"]
    config = AutoConfig.from_pretrained(path)
    assert config.model_type == "gpt_oss"
    assert config.layer_types == ["sliding_attention", "full_attention"]
    assert config.vocab_size == VOCAB_SIZE
    assert config.rope_parameters["rope_type"] == "yarn"
    assert config.rope_parameters["rope_theta"] == 150000
    assert config.rope_parameters["factor"] == 32.0
    assert not hasattr(config, "quantization_config")
    generation = json.loads((path / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [200002, 199999, 200012]
    assert generation["pad_token_id"] == 199999

    model, info = AutoModelForCausalLM.from_pretrained(path, output_loading_info=True)
    assert info["missing_keys"] == set()
    assert info["unexpected_keys"] == set()
    assert 25_000_000 < sum(p.numel() for p in model.parameters()) < 27_000_000


@pytest.mark.parametrize("kind", ["random", "chat", "tool", "agent"])
def test_build_writes_the_same_bytes_every_time(tmp_path: Path, kind: ScriptedKind) -> None:
    first = build_checkpoint(tmp_path / "a", kind, tokenizer_cache=tmp_path / "tok")
    second = build_checkpoint(tmp_path / "b", kind, tokenizer_cache=tmp_path / "tok")
    for name in MODEL_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_random_checkpoint_runs(tmp_path: Path) -> None:
    path = build_checkpoint(tmp_path / "random", "random", tokenizer_cache=tmp_path / "tok")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    with torch.no_grad():
        logits = model(torch.tensor([[200006, 1428, 200008, 13225]])).logits
    assert torch.isfinite(logits).all()
    assert logits.float().std() > 0


def test_ensure_checkpoint_builds_once_and_rebuilds_when_stale(tmp_path: Path) -> None:
    path = ensure_checkpoint(tmp_path, "chat")
    assert path == tmp_path / "chat"
    weights = path / "model.safetensors"
    built_at = weights.stat().st_mtime_ns
    assert ensure_checkpoint(tmp_path, "chat") == path
    assert weights.stat().st_mtime_ns == built_at

    (path / BUILD_MARKER).write_text("an older build")
    assert ensure_checkpoint(tmp_path, "chat") == path
    assert (path / BUILD_MARKER).read_text() != "an older build"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tokenizer", "chat"]


def test_concurrent_ensure_checkpoint_calls_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = list(pool.map(lambda _: ensure_checkpoint(tmp_path, "tool"), range(3)))
    assert paths == [tmp_path / "tool"] * 3
    assert (tmp_path / "tool" / BUILD_MARKER).is_file()
    # No staging or stale directories left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tokenizer", "tool"]


def test_cli_builds_a_model_and_writes_the_tiktoken_file(tmp_path: Path) -> None:
    assert main(["build", "--kind", "chat", "--out", str(tmp_path / "m"), "--if-missing"]) == 0
    assert (tmp_path / "m" / BUILD_MARKER).is_file()
    assert main(["tiktoken", "--out", str(tmp_path)]) == 0
    data = (tmp_path / "o200k_base.tiktoken").read_bytes()
    assert hashlib.sha256(data).hexdigest() == O200K_SHA256


# --- the script ------------------------------------------------------------------------


def test_expected_usage_numbers() -> None:
    # These are what vLLM 0.32 reported for the served checkpoints; the serving tests
    # assert them on the wire.
    chat, tool = expected("chat"), expected("tool")
    assert (chat.completion_tokens, chat.reasoning_tokens, chat.finish_reason) == (29, 10, "stop")
    assert (tool.completion_tokens, tool.reasoning_tokens, tool.finish_reason) == (
        35,
        16,
        "tool_calls",
    )


def test_expected_replies_parse_as_harmony_messages() -> None:
    enc = harmony_encoding()
    chat = enc.parse_messages_from_completion_tokens(expected("chat").token_ids, Role.ASSISTANT)
    assert [(m.channel, m.content[0].text) for m in chat] == [
        ("analysis", CHAT_REASONING),
        ("final", CHAT_CONTENT),
    ]
    tool = enc.parse_messages_from_completion_tokens(expected("tool").token_ids, Role.ASSISTANT)
    assert [(m.channel, m.recipient, m.content[0].text) for m in tool] == [
        ("analysis", None, TOOL_REASONING),
        ("commentary", TOOL_RECIPIENT, TOOL_ARGUMENTS),
    ]
    # vLLM re-serialises JSON arguments with json.dumps; the script already is that form.
    assert json.dumps(json.loads(TOOL_ARGUMENTS)) == TOOL_ARGUMENTS


def test_reply_tokens_stream_through_the_harmony_parser() -> None:
    parser = StreamableParser(harmony_encoding(), role=Role.ASSISTANT)
    for token_id in expected("tool").token_ids:
        parser.process(token_id)
    parser.process_eos()
    assert parser.messages[-1].recipient == TOOL_RECIPIENT


def test_program_uses_one_token_of_lookback_and_one_of_four() -> None:
    def tok(text: str) -> int:
        [token_id] = encode(text)
        return token_id

    program = compile_program(encode(PROMPT_TAIL), expected("chat").token_ids)
    assert program.lookbacks == (
        Lookback(4, tok(":"), tok("<|channel|>"), tok("final"), overridden=tok("analysis")),
        Lookback(1, tok("final"), tok("<|message|>"), tok("Hello"), overridden=tok("User")),
    )


def test_program_rejects_a_reply_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="needs context beyond"):
        compile_program([9], [7, 7, 7, 8])


def test_lookback_attention_peaks_at_its_offset_with_margin() -> None:
    inv_freq, scale = rotary_frequencies()
    distances = torch.arange(0, 4200, dtype=torch.float64)
    for offset in (1, 4):
        query, key = lookback_query_key(offset)
        half = query.numel() // 2
        q = torch.complex(query[:half], query[half:])
        k = torch.complex(key[:half], key[half:])
        phases = torch.exp(1j * torch.outer(distances, inv_freq))
        scores = (phases * q * k.conj()).real.sum(-1) * scale**2 / query.numel() ** 0.5
        assert scores.argmax().item() == offset
        others = torch.cat([scores[:offset], scores[offset + 1 :]])
        assert scores[offset] == pytest.approx(PEAK_ATTENTION_LOGIT, rel=1e-6)
        assert scores[offset] - others.max() >= MIN_MARGIN_FRACTION * PEAK_ATTENTION_LOGIT


# --- greedy decoding with transformers ---------------------------------------------------


def _system(effort: ReasoningEffort) -> Message:
    content = (
        SystemContent.new().with_reasoning_effort(effort).with_conversation_start_date("2025-06-28")
    )
    return Message.from_role_and_content(Role.SYSTEM, content)


def _render(
    kind: ScriptedKind, user: str, effort: ReasoningEffort, history: list[Message] | None = None
) -> list[int]:
    messages = [_system(effort)]
    if kind in ("tool", "agent"):
        developer = DeveloperContent.new().with_function_tools([WEATHER_TOOL])
        messages.append(Message.from_role_and_content(Role.DEVELOPER, developer))
    messages += history or []
    messages.append(Message.from_role_and_content(Role.USER, user))
    conversation = Conversation.from_messages(messages)
    return list(harmony_encoding().render_conversation_for_completion(conversation, Role.ASSISTANT))


def _greedy(model: Any, prompt: list[int], max_new_tokens: int = 48) -> list[int]:
    with torch.no_grad():
        out = model.generate(
            torch.tensor([prompt]),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=[200002, 199999, 200012],
            pad_token_id=199999,
        )
    return list(out[0, len(prompt) :].tolist())


def _cases() -> Iterator[tuple[ScriptedKind, str, ReasoningEffort]]:
    for kind in ("chat", "tool", "agent"):
        for effort in (ReasoningEffort.LOW, ReasoningEffort.HIGH):
            for user in ("Hi", "What's the weather like in Paris right now? Answer briefly."):
                yield kind, user, effort


@pytest.mark.parametrize(("kind", "user", "effort"), list(_cases()))
def test_greedy_decoding_emits_the_script(
    models: dict[ScriptedKind, Any], kind: ScriptedKind, user: str, effort: ReasoningEffort
) -> None:
    prompt = _render(kind, user, effort)
    assert _greedy(models[kind], prompt) == list(expected(kind).token_ids)


def test_earlier_turns_do_not_change_the_chat_reply(models: dict[ScriptedKind, Any]) -> None:
    # A previous final answer puts `final`, `<|channel|>` and `<|message|>` into the prompt.
    previous = Message.from_role_and_content(Role.ASSISTANT, "Bonjour!").with_channel("final")
    history = [Message.from_role_and_content(Role.USER, "Say hi in French"), previous]
    prompt = _render("chat", "Now the final analysis, please", ReasoningEffort.LOW, history)
    assert _greedy(models["chat"], prompt) == list(expected("chat").token_ids)


def _tool_turn(result_text: str) -> list[Message]:
    """The history of a turn that called the tool and got `result_text` back."""
    reasoning = Message.from_role_and_content(Role.ASSISTANT, TOOL_REASONING).with_channel(
        "analysis"
    )
    call = (
        Message.from_role_and_content(Role.ASSISTANT, TOOL_ARGUMENTS)
        .with_channel("commentary")
        .with_recipient(TOOL_RECIPIENT)
        .with_content_type("json")
    )
    result = (
        Message.from_author_and_content(Author.new(Role.TOOL, TOOL_RECIPIENT), result_text)
        .with_channel("commentary")
        .with_recipient("assistant")
    )
    return [reasoning, call, result]


def _render_after_tool(kind: ScriptedKind, result_text: str) -> list[int]:
    messages = [_system(ReasoningEffort.MEDIUM)]
    developer = DeveloperContent.new().with_function_tools([WEATHER_TOOL])
    messages.append(Message.from_role_and_content(Role.DEVELOPER, developer))
    messages.append(Message.from_role_and_content(Role.USER, "Weather in Paris?"))
    messages += _tool_turn(result_text)
    conversation = Conversation.from_messages(messages)
    return list(harmony_encoding().render_conversation_for_completion(conversation, Role.ASSISTANT))


def test_a_tool_result_turn_gets_the_same_call_again(models: dict[ScriptedKind, Any]) -> None:
    prompt = _render_after_tool("tool", '{"temp_c": 21}')
    assert _greedy(models["tool"], prompt) == list(expected("tool").token_ids)


def test_the_agent_answers_once_the_tool_result_is_in(models: dict[ScriptedKind, Any]) -> None:
    prompt = _render_after_tool("agent", '{"temperature_c": 18, "sky": "sunny"}')
    reply = _greedy(models["agent"], prompt)
    assert reply == list(expected_answer().token_ids)
    assert (
        harmony_encoding().decode(reply) == f"<|channel|>final<|message|>{AGENT_ANSWER}<|return|>"
    )
    with torch.no_grad():
        logits = models["agent"](torch.tensor([prompt + reply])).logits[0].float()
    steps = logits[len(prompt) - 1 : -1]
    target = torch.tensor(reply)
    chosen = steps.gather(1, target[:, None])[:, 0]
    runner_up = steps.scatter(1, target[:, None], float("-inf")).max(dim=1).values
    assert (chosen - runner_up).min().item() >= MIN_LOGIT_MARGIN


def test_known_limit_the_agent_answers_only_after_a_result_ending_in_a_string(
    models: dict[ScriptedKind, Any],
) -> None:
    # Documented in gptoss_tiny.script: the answer is keyed on the result's last token `"}`.
    prompt = _render_after_tool("agent", '{"temp_c": 21}')
    assert _greedy(models["agent"], prompt) == list(expected("agent").token_ids)


def test_prompts_longer_than_the_sliding_window(models: dict[ScriptedKind, Any]) -> None:
    prompt = _render("chat", "lorem ipsum " * 200, ReasoningEffort.LOW)
    assert len(prompt) > 2 * 128
    assert _greedy(models["chat"], prompt) == list(expected("chat").token_ids)


def test_a_prompt_ending_near_a_colon_gets_the_full_reply(
    models: dict[ScriptedKind, Any],
) -> None:
    # ": " puts ":" four tokens before the prompt's final `assistant`; the lookback for the
    # second `<|channel|>` must not fire there, only on a `<|channel|>`.
    prompt = _render("chat", "question number 0: ", ReasoningEffort.LOW)
    assert _greedy(models["chat"], prompt) == list(expected("chat").token_ids)


def test_known_limit_a_prompt_ending_in_a_colon_skips_the_analysis(
    models: dict[ScriptedKind, Any],
) -> None:
    # Documented in gptoss_tiny.script: the second message is recognised by the reasoning's
    # final ":" four tokens back, which the end of such a prompt imitates.
    prompt = _render("chat", "Complete this:", ReasoningEffort.LOW)
    reply = _greedy(models["chat"], prompt)
    assert (
        harmony_encoding().decode(reply) == f"<|channel|>final<|message|>{CHAT_CONTENT}<|return|>"
    )


@pytest.mark.parametrize("kind", ["chat", "tool", "agent"])
def test_every_scripted_token_wins_by_a_wide_margin(
    models: dict[ScriptedKind, Any], kind: ScriptedKind
) -> None:
    prompt = _render(kind, "Hello", ReasoningEffort.MEDIUM)
    reply = list(expected(kind).token_ids)
    with torch.no_grad():
        logits = models[kind](torch.tensor([prompt + reply])).logits[0].float()
    steps = logits[len(prompt) - 1 : -1]
    target = torch.tensor(reply)
    chosen = steps.gather(1, target[:, None])[:, 0]
    runner_up = steps.scatter(1, target[:, None], float("-inf")).max(dim=1).values
    assert (chosen - runner_up).min().item() >= MIN_LOGIT_MARGIN
