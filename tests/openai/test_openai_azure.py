"""Azure OpenAI (issue 17, row 14): a deployment on an Azure resource, live on both HTTP paths
and in batches, on the v1 API and the dated one, against the fake's Azure routes (which
enforce `api-version`, the `api-key` header and deployments as Azure does)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from lmwrapper import ConfigurationError, MissingApiKeyError, ModelNotFoundError, UnknownModelError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.cli.batch import predictor_for
from lmwrapper.openai_wrapper import AzureConfig, get_open_ai_lm
from lmwrapper.structs import LmPrompt

KEY = "azure-test-key-0123456789abcdef"
DATED = "2024-10-21"
APIS = pytest.mark.parametrize("version", [None, DATED], ids=["v1", "dated"])


@pytest.fixture
def azure(srv, monkeypatch):
    """The fake's deployments, and nothing of OpenAI's or Azure's in the environment."""
    srv.azure_deployments = {"team-4o-mini": "gpt-4o-mini"}
    srv.azure_batch_deployments = {"team-4o-mini-batch": "gpt-4o-mini"}
    for var in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION",
                "OPENAI_BASE_URL", "LMWRAPPER_AZURE_BATCH_DEPLOYMENT", "LMWRAPPER_LIVE_HTTP"):
        monkeypatch.delenv(var, raising=False)
    return srv


def make(srv, version=None, *, deployment="team-4o-mini", **kw):
    config = AzureConfig(endpoint=srv.url, deployment=deployment, api_version=version,
                         batch_deployment="team-4o-mini-batch")
    return get_open_ai_lm("gpt-4o-mini", api_key_secret=KEY, azure=config, **kw)


def qs(n, tag="q"):
    return [LmPrompt(f"{tag}{i}", max_tokens=3, temperature=0) for i in range(n)]


def calls(srv, route="chat.completions"):
    return [r for r in srv.requests if r.route == route]


def _auth(version):
    """What each API is sent: the dated one an `api-key` header only, the v1 one the
    `OpenAI` client's bearer token (Microsoft's docs show both accepted on v1)."""
    return "api-key" if version else "authorization"


@APIS
@pytest.mark.parametrize("path", ["lean", "sdk"])
def test_live_runs_reach_the_deployment_with_the_azure_key(azure, monkeypatch, version, path):
    if path == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    lm = make(azure, version)
    preds = [*lm.predict_many(qs(5)), lm.predict(LmPrompt("one more", max_tokens=3))]
    assert (lm.async_sender() is not None) == (path == "lean")
    assert [p.error_message for p in preds if p.has_errors] == []
    sent = calls(azure)
    assert len(sent) == 6  # billed == delivered
    want = "/openai/deployments/team-4o-mini/chat/completions" if version \
        else "/openai/v1/chat/completions"
    assert {r.path for r in sent} == {want}
    assert all(r.headers.get(_auth(version)) == "<redacted>" for r in sent)
    if version:
        assert not any("authorization" in r.headers for r in sent)
    else:
        assert {r.body["model"] for r in sent} == {"team-4o-mini"}  # the deployment, as model
    assert all(p.cost_usd and p.cost_usd > 0 for p in preds)  # priced as gpt-4o-mini


@APIS
def test_a_batch_names_the_global_batch_deployment_on_every_line(azure, version):
    lm = make(azure, version)
    preds = list(lm.predict_many(qs(4, "b"), CompletionWindow.BATCH_ANY))
    assert [p.error_message for p in preds if p.has_errors] == []
    assert [p.was_cached for p in preds] == [False] * 4
    assert azure.count("files.create") == 1 and azure.count("batches.create") == 1
    assert calls(azure) == []  # nothing went live
    create = calls(azure, "batches.create")[0]
    assert create.path == ("/openai/batches" if version else "/openai/v1/batches")
    assert create.body["endpoint"] == "/chat/completions"  # as Azure's docs send it
    assert all(r.headers.get(_auth(version)) for r in azure.requests)
    upload = calls(azure, "files.create")[0].body  # the multipart body, as sent
    lines = [json.loads(x) for x in upload.splitlines() if x.startswith(b'{"custom_id"')]
    assert len(lines) == 4 and {x["body"]["model"] for x in lines} == {"team-4o-mini-batch"}
    assert {x["url"] for x in lines} == {"/chat/completions" if version else "/v1/chat/completions"}
    assert [p.was_cached for p in lm.predict_many(qs(4, "b"))] == [True] * 4


def test_a_batch_on_a_standard_deployment_fails_as_azure_fails_it(azure):
    """Azure batches run on a Global-Batch deployment only: a batch naming the live one
    fails its validation (`model_not_found`), which stops the run, nothing bought."""
    config = AzureConfig(endpoint=azure.url, deployment="team-4o-mini")  # no batch deployment
    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret=KEY, azure=config)
    with pytest.raises(ModelNotFoundError, match="deployment name"):
        list(lm.predict_many(qs(2, "s"), CompletionWindow.BATCH_ANY))
    assert calls(azure) == [] and azure.count("batches.create") == 1


@APIS
def test_a_deployment_that_does_not_exist_is_refused(azure, version):
    lm = make(azure, version, deployment="no-such-deployment")
    with pytest.raises(ModelNotFoundError, match="'no-such-deployment' not found"):
        lm.predict(LmPrompt("hi", max_tokens=3))
    with pytest.raises(ModelNotFoundError, match="deployment .* does not exist"):
        list(lm.predict_many(qs(3, "nd")))


def _post(url, body, headers):
    """(status, parsed body) of a POST with the stdlib's client."""
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_fake_enforces_the_dated_apis_version_and_key_header(azure):
    url = f"{azure.url}/openai/deployments/team-4o-mini/chat/completions"
    body = {"model": "team-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    no_version = _post(url, body, {"api-key": KEY})
    bearer = _post(f"{url}?api-version={DATED}", body, {"authorization": f"Bearer {KEY}"})
    ok = _post(f"{url}?api-version={DATED}", body, {"api-key": KEY})
    v1_completions = _post(f"{azure.url}/openai/v1/completions", body, {"api-key": KEY})
    assert no_version[0] == 404 and no_version[1]["error"]["code"] == "404"
    assert bearer[0] == 401
    assert ok[0] == 200 and ok[1]["model"].startswith("gpt-4o-mini")
    assert v1_completions[0] == 404  # the v1 API has no /completions


def test_answers_are_keyed_apart_from_openais_and_alike_across_azures_apis(azure, make_lm):
    prompts = qs(3, "k")
    list(make_lm().predict_many(prompts))  # the same model from OpenAI (the fake's /v1)
    before = len(calls(azure))
    v1 = make(azure)
    assert not any(p.was_cached for p in v1.predict_many(prompts))
    assert len(calls(azure)) == before + 3
    dated = make(azure, DATED)  # same resource, same deployment: the same answers
    assert all(p.was_cached for p in dated.predict_many(prompts))
    other = make(azure, deployment="team-4o-mini-2")  # another deployment: its own
    assert v1.identity_json() != other.identity_json()


def test_settings_come_from_the_sdks_environment_variables(azure, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", azure.url)
    monkeypatch.setenv("OPENAI_API_VERSION", DATED)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-this-one-0123456789")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    azure.api_key = KEY  # only the Azure key is accepted
    lm = get_open_ai_lm("gpt-4o-mini", azure=AzureConfig(deployment="team-4o-mini"))
    assert not lm.predict(LmPrompt("env", max_tokens=3)).has_errors
    assert calls(azure)[-1].path == "/openai/deployments/team-4o-mini/chat/completions"
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    lm = get_open_ai_lm("gpt-4o-mini", azure=AzureConfig(deployment="team-4o-mini"))
    with pytest.raises(MissingApiKeyError, match="AZURE_OPENAI_API_KEY"):
        lm.predict(LmPrompt("no key", max_tokens=3))


def test_one_endpoint_is_one_spelling():
    """The endpoint keys the cache: however it is written, one resource is one key."""
    c = AzureConfig(endpoint="HTTPS://My-Resource.openai.azure.com/", api_version="2024-10-21")
    assert c.resolved("gpt-4o-mini").endpoint == "https://my-resource.openai.azure.com"
    assert c.resolved("gpt-4o-mini").base_url.endswith("/openai?api-version=2024-10-21")


def test_the_model_name_is_openais_and_a_typo_is_refused(azure):
    """The model name is the model's (its facts and price), not the deployment's."""
    with pytest.raises(UnknownModelError, match="gpt-4o-mini"):
        get_open_ai_lm("gpt-4o-mni", azure=AzureConfig(endpoint=azure.url, deployment="d"))


@pytest.mark.parametrize("config", [
    AzureConfig(endpoint="https://r.openai.azure.com/openai/v1"),
    AzureConfig(endpoint="r.openai.azure.com"),
    AzureConfig(endpoint="https://r.openai.azure.com", deployment="a/b"),
    AzureConfig(),
])
def test_a_configuration_that_cannot_work_is_refused_with_the_fix(azure, config):
    with pytest.raises(ConfigurationError, match="endpoint|deployment"):
        get_open_ai_lm("gpt-4o-mini", azure=config)


def test_the_key_goes_only_to_the_configured_azure_endpoint(azure, monkeypatch):
    """A batch job's recorded Azure endpoint is rebuilt as Azure (its deployment, its key
    header), and sent the key only where it is the endpoint configured here."""
    identity = make(azure).identity_json()
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://ours.openai.azure.com")
    with pytest.raises(ConfigurationError, match="--trust-base-url"):
        predictor_for(identity)
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        predictor_for(identity)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", azure.url)
    lm = predictor_for(identity)
    assert lm.model_identity() == json.loads(identity)
    assert type(lm).__name__ == "AzureOpenAiPredictor" and lm.key_env_var == "AZURE_OPENAI_API_KEY"
    assert predictor_for(identity, trust_base_url=True).model_identity() == json.loads(identity)


@pytest.mark.parametrize("window", [CompletionWindow.FLEX, CompletionWindow.PRIORITY])
def test_no_service_tier_window_on_azure(azure, window):
    """FLEX and PRIORITY are OpenAI's tiers at OpenAI's rates: on Azure they are refused
    before anything is sent."""
    with pytest.raises(ValueError, match="Azure"):
        list(make(azure).predict_many(qs(2), completion_window=window))
    assert not calls(azure)
