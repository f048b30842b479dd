"""The guarding proxy as a real process, used through the official OpenAI client.

One proxy runs the embedded engine in-process (guarded, streamed, pass-through, errors, auth,
64 concurrent clients); others sit in front of a real vLLM server (forwarding, upstream down,
graceful shutdown).
"""

import asyncio
import threading
import time

import httpx
import openai
import pytest

from .proxy import ProxyProcess

pytestmark = [pytest.mark.engine]

KEY = "test-key"
USER = [{"role": "user", "content": "You charged me twice. Refund me now!"}]
VARIABLES = {"customer_name": "Dana"}

REFUNDS = """
blueprint: refunds
instructions:
  no_refund: Never promise or approve a refund; offer to escalate to a human agent instead.
  greet: Address the customer as {{ customer_name }}.
variables:
  customer_name: {type: string}
system: You are the support agent of Acme.
checkpoints:
  - id: refund_asked
    recall: [no_refund, greet]
    ask: Is the customer asking for money back?
    answer: {type: boolean}
reply: {max_length: 160}
checks:
  - not_matches: "(?i)refund (is|has been|was) (approved|issued|processed)"
on_fail: {retries: 0, then: return}
"""

TINY = """
blueprint: tiny
instructions:
  short: Answer in one short sentence.
checkpoints:
  - id: topic
    recall: [short]
    ask: Is this a greeting?
    answer: {type: boolean}
reply: {max_length: 40}
on_fail: {retries: 0, then: return}
"""


@pytest.fixture(scope="module")
def blueprints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blueprints")
    (folder / "refunds.yaml").write_text(REFUNDS)
    (folder / "tiny.yaml").write_text(TINY)
    return folder


@pytest.fixture(scope="module")
def proxy(blueprints, embedded_model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "proxy.log"
    server = ProxyProcess(
        "--upstream",
        "embedded",
        "--blueprints",
        str(blueprints),
        "--passthrough",
        "--api-key",
        KEY,
        "--map",
        "support-model=refunds",
        log=log,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def client(proxy):
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=600)


def test_unmodified_client_gets_a_guarded_reply_with_the_trace(client):
    completion = client.chat.completions.create(
        model="blueprint:refunds",
        messages=USER,
        temperature=0,
        extra_body={"parlantish": {"variables": VARIABLES}},
    )
    assert completion.object == "chat.completion"
    message = completion.choices[0].message
    assert message.role == "assistant" and isinstance(message.content, str) and message.content
    assert completion.usage.completion_tokens > 0
    trace = completion.model_extra["parlantish"]
    (checkpoint,) = trace["checkpoints"]
    # Forced by constrained decoding: the restatement is exactly the instructions.
    assert checkpoint["recall"] == [
        "Never promise or approve a refund; offer to escalate to a human agent instead.",
        "Address the customer as Dana.",
    ]
    assert isinstance(checkpoint["answer"], bool)
    assert [c["name"] for c in trace["checks"]] == ["not_matches"]
    assert trace["passed"] == trace["checks"][0]["passed"]


def test_model_mapping_guards_an_upstream_model_name(client):
    completion = client.chat.completions.create(
        model="support-model", messages=USER, extra_body={"parlantish": {"variables": VARIABLES}}
    )
    assert completion.model_extra["parlantish"]["blueprint"]["name"] == "refunds"


def test_streamed_guarded_reply(client):
    stream = client.chat.completions.create(
        model="blueprint:refunds",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"parlantish": {"variables": VARIABLES}},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1 and text
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # live
    trace = finals[0].model_extra["parlantish"]
    assert trace["checkpoints"][0]["recall"][1] == "Address the customer as Dana."
    assert chunks[-1].usage.completion_tokens > 0


def test_passthrough_reaches_the_engine_unguarded(client):
    models = [m.id for m in client.models.list().data]
    assert {"blueprint:refunds", "blueprint:tiny", "support-model"} <= set(models)
    upstream = [m for m in models if m.startswith("/")]
    assert upstream, models
    completion = client.chat.completions.create(
        model=upstream[0], messages=[{"role": "user", "content": "Say hi."}], max_tokens=8
    )
    assert completion.choices[0].message.content and "parlantish" not in completion.model_extra
    stream = client.chat.completions.create(
        model=upstream[0],
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=8,
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_wrong_key_is_refused(proxy):
    bad = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as error:
        bad.chat.completions.create(model="blueprint:refunds", messages=USER)
    assert error.value.status_code == 401
    assert error.value.body["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("options", "error_type", "status", "param"),
    [
        ({"model": "blueprint:missing"}, openai.NotFoundError, 404, "model"),
        ({"temperature": 7}, openai.BadRequestError, 400, "temperature"),
        (
            {"extra_body": {"parlantish": {"variables": {}}}},
            openai.UnprocessableEntityError,
            422,
            "parlantish.variables",
        ),
        (
            {"extra_body": {"parlantish": {"variables": VARIABLES, "deadline_s": 0.05}}},
            openai.APIStatusError,
            504,
            None,
        ),
    ],
)
def test_error_statuses(client, options, error_type, status, param):
    request = {
        "model": "blueprint:refunds",
        "messages": USER,
        "extra_body": {"parlantish": {"variables": VARIABLES}},
        **options,
    }
    with pytest.raises(error_type) as error:
        client.chat.completions.create(**request)
    assert error.value.status_code == status
    assert error.value.body["param"] == param


def test_64_concurrent_clients_get_well_formed_replies(proxy):
    async def run():
        client = openai.AsyncOpenAI(
            base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=900
        )

        async def one(i):
            return await client.chat.completions.create(
                model="blueprint:tiny",
                temperature=0.7,
                seed=i,
                messages=[{"role": "user", "content": f"Hello number {i}!"}],
            )

        try:
            return await asyncio.gather(*(one(i) for i in range(64)), return_exceptions=True)
        finally:
            await client.close()

    results = asyncio.run(run())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    for completion in results:
        assert completion.object == "chat.completion"
        assert isinstance(completion.choices[0].message.content, str)
        assert completion.model_extra["parlantish"]["checkpoints"][0]["recall"] == [
            "Answer in one short sentence."
        ]
    metrics = httpx.get(f"{proxy.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    assert 'parlantish_requests_total{mode="guarded",status="200"}' in metrics
    # A line per guarded call would be an access log: at the default --log-level info, none.
    assert "guarded call" not in proxy.log.read_text(errors="replace")


@pytest.mark.server
def test_proxy_in_front_of_a_vllm_server_forwards_and_shuts_down_gracefully(
    vllm_server, blueprints, tmp_path
):
    proxy = ProxyProcess(
        "--upstream",
        vllm_server.url,
        "--blueprints",
        str(blueprints),
        "--passthrough",
        "--graceful-timeout",
        "120",
        log=tmp_path / "proxy.log",
    ).start()
    try:
        client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="none", max_retries=0)
        upstream_model = client.models.list().data[-1].id
        forwarded = client.chat.completions.create(
            model=upstream_model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
        assert forwarded.choices[0].message.content is not None
        guarded = client.chat.completions.create(
            model="blueprint:tiny", messages=[{"role": "user", "content": "Hi"}]
        )
        assert guarded.model_extra["parlantish"]["checkpoints"]
        # Graceful shutdown: a request in flight finishes; new connections are refused.
        outcome = {}

        def slow():
            outcome["reply"] = client.chat.completions.create(
                model=upstream_model,
                messages=[{"role": "user", "content": "Count to 50."}],
                max_tokens=120,
                temperature=0,
            )

        worker = threading.Thread(target=slow)
        worker.start()
        time.sleep(1.0)
        proxy.terminate()
        worker.join(timeout=300)
        assert outcome["reply"].usage.completion_tokens > 0
        proxy.process.wait(timeout=60)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{proxy.url}/health", timeout=2)
    finally:
        proxy.stop()


def test_upstream_down_is_502(blueprints, tmp_path):
    from parlantish.backends.launch import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"
    proxy = ProxyProcess(
        "--upstream", dead, "--blueprints", str(blueprints), log=tmp_path / "proxy.log"
    ).start(expect_healthy=False)
    try:
        assert httpx.get(f"{proxy.url}/health").status_code == 503
        client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="none", max_retries=0)
        with pytest.raises(openai.APIStatusError) as error:
            client.chat.completions.create(model="blueprint:tiny", messages=USER)
        assert error.value.status_code == 502 and error.value.body["code"] == "upstream"
    finally:
        proxy.stop()
