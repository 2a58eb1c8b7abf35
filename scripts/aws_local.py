"""The serverless stack under emulation, in the foreground, with one command:

    python -m scripts.aws_local [--http-port 3000] [--ws-port 3001] [--state-dir aws-local]

What runs, all on 127.0.0.1:
- moto's server as DynamoDB, SNS, Cognito and S3 (the tables are created by `hubbub
  migrate`; a user pool, its app client, the fan-out topic and the attachments bucket
  by this script), answering one request at a time (scripts/serial_moto.py);
- a real redis-server, as ElastiCache would be;
- serverless-offline (under osls) running the real Lambda handlers of every service
  from `infra/local/serverless.yml`: the HTTP API on --http-port (the same `/api/...`
  paths as `hubbub serve`) and the WebSocket API on --ws-port; at most --concurrency
  invocations of one function at once, the rest queued for a warm process
  (`infra/local/concurrency.mjs`), since this host cannot scale out as Lambda does.

SNS's Lambda subscription is emulated here, since moto cannot invoke a Lambda without
Docker: the topic delivers to an HTTP subscription on this launcher (`SnsToLambda`),
which answers at once, as SNS does not wait for a Lambda, and invokes the fan-out
function with the SNS event Lambda would get, through serverless-offline's Lambda API,
one notification after another.
Sign-ups are confirmed at once (the local stage's PreSignUp stand-in). moto keeps
everything in memory: stopping the stack forgets every user and message; Redis's
password and the logs stay in the state directory. Ctrl-C or SIGTERM stops it all.
`make aws-local` installs what it needs and runs it.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from scripts.aws_package import npm_install
from scripts.children import Stop, spawn, stop, stop_group, stop_on_signals, wait_for, watch
from scripts.services import Redis, secret_file

ROOT = Path(__file__).resolve().parent.parent
LOCAL_SERVICE = ROOT / "infra" / "local"
REGION = "us-east-1"
STAGE = "local"
TABLE_PREFIX = f"hubbub-{STAGE}-"
# serverless-offline's name for the realtime service's fan-out function.
FANOUT_FUNCTION = f"hubbub-{STAGE}-fanout"
# Loaded into serverless-offline: a cap on one function's invocations at once.
CONCURRENCY = (LOCAL_SERVICE / "concurrency.mjs").as_uri()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.aws_local",
        description="Hubbub's serverless stack under emulation: serverless-offline running"
        " the Lambda handlers, moto as DynamoDB, SNS and Cognito, and Redis.",
    )
    parser.add_argument("--http-port", type=int, default=3000, help="the HTTP API (3000)")
    parser.add_argument(
        "--ws-port",
        type=int,
        default=3001,
        help="the WebSocket API (3001); serverless-offline's Lambda port, moto and Redis"
        " take the four ports after it",
    )
    parser.add_argument("--state-dir", type=Path, default=Path("aws-local"))
    parser.add_argument(
        "--concurrency",
        type=int,
        default=max(2, os.cpu_count() or 1),
        help="invocations of one function run at once, the rest queue for a warm process"
        " (infra/local/concurrency.mjs; default: the CPU count, at least 2)",
    )
    parser.add_argument(
        "--origin",
        action="append",
        default=[],
        help="a web page origin allowed to open the WebSocket (repeatable; the default"
        " allows the Vite dev server and the local server's pages)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for port in (args.http_port, args.ws_port):
        if not 1024 <= port <= 65532:
            print("aws_local: ports must be 1024-65532", file=sys.stderr)
            return 2
    if args.concurrency < 1:
        print("aws_local: --concurrency must be at least 1", file=sys.stderr)
        return 2
    stop_on_signals()
    try:
        return _run(args)
    except Stop:
        return 0
    except RuntimeError as error:
        print(f"aws_local: {error}", file=sys.stderr)
        return 1


def aws_env(moto_port: int) -> dict[str, str]:
    """What boto3 needs to reach moto instead of AWS: fake credentials and the standard
    endpoint variable, which every AWS SDK honours."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
    }


def _run(args: argparse.Namespace) -> int:
    state: Path = args.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    logs = state / "logs"
    lambda_port, moto_port, redis_port = args.ws_port + 1, args.ws_port + 2, args.ws_port + 3
    sns_port = args.ws_port + 4
    npm_install()  # osls and serverless-offline, pinned in infra/package-lock.json
    osls = ROOT / "infra" / "node_modules" / ".bin" / "osls"
    with ExitStack() as running:
        print(
            f"Starting moto (DynamoDB, SNS, Cognito, S3) on 127.0.0.1:{moto_port} ...", flush=True
        )
        moto_log = logs / "moto.log"
        moto = spawn(
            [sys.executable, "-m", "scripts.serial_moto", str(moto_port)],
            moto_log,
            cwd=ROOT,
        )
        running.callback(stop, moto)
        wait_for(_answers(f"http://127.0.0.1:{moto_port}/moto-api/"), moto, "moto", moto_log)

        print(f"Starting Redis on 127.0.0.1:{redis_port} ...", flush=True)
        redis = Redis(state / "redis", redis_port, state / "redis-password")
        running.callback(redis.stop)
        redis.start()

        env = {**os.environ, **aws_env(moto_port)}
        resources = create_resources(env, f"http://127.0.0.1:{sns_port}/")
        origins = args.origin or [
            f"http://127.0.0.1:{args.http_port}",
            "http://localhost:5173",
            "http://127.0.0.1:5173",
        ]
        venv = Path(sys.executable).parent.parent
        env.update(
            {
                "HUBBUB_STORE": "dynamodb",
                "HUBBUB_DYNAMODB_TABLE_PREFIX": TABLE_PREFIX,
                "HUBBUB_SNS_TOPIC_ARN": resources["topic_arn"],
                "HUBBUB_WS_MANAGEMENT_URL": f"http://127.0.0.1:{args.ws_port}",
                "HUBBUB_COGNITO_USER_POOL_ID": resources["pool_id"],
                "HUBBUB_COGNITO_CLIENT_ID": resources["client_id"],
                "HUBBUB_COGNITO_JWKS_URL": (
                    f"http://127.0.0.1:{moto_port}/{resources['pool_id']}/.well-known/jwks.json"
                ),
                "HUBBUB_REDIS_URL": redis.url,
                "HUBBUB_ALLOWED_ORIGINS": ",".join(origins),
                "HUBBUB_AUTO_CONFIRM": "true",
                "HUBBUB_S3_BUCKET": f"hubbub-{STAGE}-attachments",
                "HUBBUB_TOKEN_SECRET": secret_file(state / "token-secret"),
                # serverless-offline runs `python3` from the active virtualenv.
                "VIRTUAL_ENV": str(venv),
                # A burst queues for a few warm processes instead of starting one cold
                # process per request on the host's few cores (infra/local/concurrency.mjs).
                "HUBBUB_OFFLINE_CONCURRENCY": str(args.concurrency),
                "NODE_OPTIONS": f"{env.get('NODE_OPTIONS', '')} --import={CONCURRENCY}".strip(),
                "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            }
        )
        migrate = subprocess.run(
            [sys.executable, "-m", "hubbub", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"hubbub migrate failed:\n{migrate.stdout}{migrate.stderr}")

        print("Starting serverless-offline with every service's handlers ...", flush=True)
        offline_log = logs / "offline.log"
        offline = spawn(
            [
                str(osls),
                "offline",
                "start",
                "--stage",
                STAGE,
                "--region",
                REGION,
                "--httpPort",
                str(args.http_port),
                "--websocketPort",
                str(args.ws_port),
                "--lambdaPort",
                str(lambda_port),
                "--noPrependStageInUrl",
            ],
            offline_log,
            env,
            cwd=LOCAL_SERVICE,
        )
        running.callback(stop_group, offline)
        # Threads only now: spawning children from a threaded parent is unsafe.
        bridge = SnsToLambda(sns_port, f"http://127.0.0.1:{lambda_port}", env)
        running.callback(bridge.stop)
        bridge.start()
        wait_for(
            _answers(f"http://127.0.0.1:{args.http_port}/api/users/me"),
            offline,
            "serverless-offline",
            offline_log,
            timeout=120,
        )
        print(
            f"\nHubbub's serverless stack is on http://127.0.0.1:{args.http_port}/api"
            f" and ws://127.0.0.1:{args.ws_port}.\n"
            f"Logs in {logs}. Ctrl-C stops everything (moto keeps nothing).",
            flush=True,
        )
        watch("aws_local", [("serverless-offline", offline, offline_log), ("moto", moto, moto_log)])
    return 1


def create_resources(env: Mapping[str, str], sns_endpoint: str) -> dict[str, str]:
    """The user pool, its app client and the fan-out topic, as the shared stack makes
    them on AWS, with the topic delivering to `sns_endpoint` (`SnsToLambda`)."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    endpoint = env["AWS_ENDPOINT_URL"]
    cognito = session.client("cognito-idp", endpoint_url=endpoint)
    pool_properties, client_properties = _deployed_pool()
    pool = cognito.create_user_pool(PoolName=f"hubbub-{STAGE}", **pool_properties)["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName=f"hubbub-{STAGE}-web", **client_properties
    )["UserPoolClient"]
    # The attachments bucket (infra/local names it hubbub-local-attachments).
    session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=f"hubbub-{STAGE}-attachments")
    sns = session.client("sns", endpoint_url=endpoint)
    topic_arn = sns.create_topic(Name=f"hubbub-{STAGE}-events")["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="http",
        Endpoint=sns_endpoint,
    )
    return {"pool_id": pool["Id"], "client_id": client["ClientId"], "topic_arn": topic_arn}


class SnsToLambda:
    """SNS's subscription of the fan-out function, emulated: takes moto's HTTP
    notifications on 127.0.0.1:`port`, answers each at once, and invokes the function
    with the event Lambda gets from SNS, in the order they were published."""

    def __init__(self, port: int, lambda_endpoint: str, env: Mapping[str, str]) -> None:
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._lambda_endpoint = lambda_endpoint
        self._env = env
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._invoke_each, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        notifications = self._queue

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                notification = json.loads(body)
                if notification.get("Type") == "Notification":
                    notifications.put(notification)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _invoke_each(self) -> None:
        import boto3

        client = boto3.client(
            "lambda",
            endpoint_url=self._lambda_endpoint,
            region_name=REGION,
            aws_access_key_id=self._env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self._env["AWS_SECRET_ACCESS_KEY"],
        )
        while (notification := self._queue.get()) is not None:
            event = {"Records": [_sns_record(notification)]}
            try:
                client.invoke(FunctionName=FANOUT_FUNCTION, Payload=json.dumps(event).encode())
            except Exception as error:  # logged; SNS would retry, we go on
                print(f"aws_local: the fan-out failed: {error}", file=sys.stderr, flush=True)


def _sns_record(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The record Lambda gets from SNS for `notification` (an HTTP delivery's body)."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{notification['TopicArn']}:local",
        "Sns": {
            "Type": "Notification",
            "MessageId": notification["MessageId"],
            "TopicArn": notification["TopicArn"],
            "Subject": notification.get("Subject"),
            "Message": notification["Message"],
            "Timestamp": notification["Timestamp"],
            "SignatureVersion": notification.get("SignatureVersion", "1"),
            "Signature": notification.get("Signature", ""),
            "SigningCertUrl": notification.get("SigningCertURL", ""),
            "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
            "MessageAttributes": notification.get("MessageAttributes", {}),
        },
    }


def _deployed_pool() -> tuple[dict[str, Any], dict[str, Any]]:
    """The user pool's and app client's properties as the shared stack deploys them
    (infra/shared/resources/cognito.yml), so the local pool enforces the same password
    policy and token lifetimes; less its names and its trigger, which moto cannot run."""
    import yaml  # type: ignore[import-untyped]  # PyYAML ships no types

    class _Template(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
        pass

    # CloudFormation's short-form functions (!Ref, !GetAtt): kept as their text.
    _Template.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load(  # a SafeLoader: no Python objects
        (ROOT / "infra" / "shared" / "resources" / "cognito.yml").read_text(), _Template
    )
    resources = template["Resources"]
    pool = dict(resources["UserPool"]["Properties"])
    for name in ("UserPoolName", "LambdaConfig"):
        pool.pop(name, None)
    client = dict(resources["UserPoolClient"]["Properties"])
    for name in ("ClientName", "UserPoolId"):
        client.pop(name, None)
    return pool, client


def _answers(url: str) -> Callable[[], bool]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def ready() -> bool:
        try:
            opener.open(url, timeout=2).close()
        except urllib.error.HTTPError:
            return True  # any HTTP answer (401 included) means it is serving
        except OSError:
            return False
        return True

    return ready


if __name__ == "__main__":
    if shutil.which("node") is None:
        print("aws_local: Node.js is missing (serverless-offline runs on it)", file=sys.stderr)
        sys.exit(1)
    sys.exit(main())
