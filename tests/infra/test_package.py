"""What `make package` produces, read as an operator would before deploying: every stack packages
offline and passes cfn-lint, each function runs the handler the code provides, its role allows
what it needs and nothing destructive, only the Redis users sit in the VPC, and the tables keep
their history (PITR) and expire what is due (TTL).

The templates are packaged with a code-only artifact (the dependency install needs PyPI); the
full build is `make package`. Node and npm are required: without them this fails, it does not
skip."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from scripts import aws_package

Template = dict[str, Any]

HANDLERS = {
    "shared": {"PreSignUpLambdaFunction": "hubbub.aws.cognito_triggers.pre_sign_up"},
    "auth": {"AuthLambdaFunction": "hubbub.aws.http.auth"},
    "conversations": {"ConversationsLambdaFunction": "hubbub.aws.http.conversations"},
    "messages": {"MessagesLambdaFunction": "hubbub.aws.http.messages"},
    "realtime": {
        "ConnectLambdaFunction": "hubbub.aws.realtime.connect",
        "DisconnectLambdaFunction": "hubbub.aws.realtime.disconnect",
        "DefaultLambdaFunction": "hubbub.aws.realtime.default",
        "FanoutLambdaFunction": "hubbub.aws.realtime.fanout",
    },
}
# Functions that use Redis, and only they, run in the VPC (src/hubbub/aws/__init__.py): the
# HTTP services and realtime's connect, disconnect and default. The fan-out (Management API,
# connections table) and PreSignUp run outside it.
IN_VPC = {
    ("auth", "AuthLambdaFunction"),
    ("conversations", "ConversationsLambdaFunction"),
    ("messages", "MessagesLambdaFunction"),
    ("realtime", "ConnectLambdaFunction"),
    ("realtime", "DisconnectLambdaFunction"),
    ("realtime", "DefaultLambdaFunction"),
}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A code-only artifact, named to osls by HUBBUB_LAMBDA_ARTIFACT."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required to package the AWS stacks (install Node.js 18+)")
    aws_package.npm_install()
    aws_package.tables_json()
    path = aws_package.bundle_zip(
        with_dependencies=False, target=tmp_path_factory.mktemp("artifact") / "bundle.zip"
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("HUBBUB_LAMBDA_ARTIFACT", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def templates(artifact: Path) -> dict[str, Template]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = dict(
            zip(
                aws_package.SERVICES,
                pool.map(aws_package.osls_package, aws_package.SERVICES),
                strict=True,
            )
        )
    aws_package.cfn_lint(list(paths.values()))  # raises SystemExit on any finding
    return {name: json.loads(path.read_text()) for name, path in paths.items()}


def _of_type(template: Template, kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _functions() -> Iterator[tuple[str, str]]:
    for service, functions in HANDLERS.items():
        for logical_id in functions:
            yield service, logical_id


def _statements(template: Template, function: dict[str, Any]) -> list[dict[str, Any]]:
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def _allowed(statements: list[dict[str, Any]], action: str) -> list[Any]:
    """The resources on which the statements allow `action` (IAM wildcards honoured)."""
    found: list[Any] = []
    for statement in statements:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        if statement["Effect"] == "Allow" and any(
            fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions
        ):
            resources = statement["Resource"]
            found += resources if isinstance(resources, list) else [resources]
    return found


def test_every_function_runs_its_handler_on_python312_arm64(templates: dict[str, Template]) -> None:
    for service, functions in HANDLERS.items():
        deployed = _of_type(templates[service], "AWS::Lambda::Function")
        assert set(deployed) == set(functions), service
        for logical_id, handler in functions.items():
            props = deployed[logical_id]["Properties"]
            assert props["Handler"] == handler
            assert props["Runtime"] == "python3.12"
            assert props["Architectures"] == ["arm64"]


def test_only_the_redis_users_are_in_the_vpc_and_they_alone_get_the_redis_url(
    templates: dict[str, Template],
) -> None:
    for service, logical_id in _functions():
        props = templates[service]["Resources"][logical_id]["Properties"]
        env = props.get("Environment", {}).get("Variables", {})
        in_vpc = (service, logical_id) in IN_VPC
        assert ("VpcConfig" in props) is in_vpc, (service, logical_id)
        assert ("HUBBUB_REDIS_URL" in env) is in_vpc, (service, logical_id)
        if in_vpc:
            # TLS, and the AUTH token resolved from Secrets Manager at deploy time.
            url = json.dumps(env["HUBBUB_REDIS_URL"])
            assert "rediss://" in url and "{{resolve:secretsmanager:" in url


def test_application_functions_are_configured_for_dynamodb_and_cognito(
    templates: dict[str, Template],
) -> None:
    for service, logical_id in _functions():
        if service == "shared":
            continue
        env = templates[service]["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
        assert env["HUBBUB_STORE"] == "dynamodb"
        assert env["HUBBUB_DYNAMODB_TABLE_PREFIX"] == "hubbub-dev-"
        assert env["HUBBUB_COGNITO_USER_POOL_ID"] == {"Fn::ImportValue": "hubbub-dev-UserPoolId"}
        assert env["HUBBUB_AUTO_CONFIRM"] == "false"  # only the local stage confirms by itself
        if logical_id == "FanoutLambdaFunction":
            # Signs and verifies nothing: it need not hold the token key.
            assert env["HUBBUB_TOKEN_SECRET"] == ""
        else:
            assert env["HUBBUB_TOKEN_SECRET"].startswith("{{resolve:secretsmanager:hubbub/dev/")
    realtime = templates["realtime"]["Resources"]
    fanout = realtime["FanoutLambdaFunction"]["Properties"]["Environment"]["Variables"]
    assert fanout["HUBBUB_WS_MANAGEMENT_URL"] == {
        "Fn::ImportValue": "hubbub-dev-WebSocketManagementUrl"
    }
    # Only the fan-out talks to the Management API; it publishes nothing.
    assert "HUBBUB_SNS_TOPIC_ARN" not in fanout
    for logical_id in (
        "ConnectLambdaFunction",
        "DisconnectLambdaFunction",
        "DefaultLambdaFunction",
    ):
        env = realtime[logical_id]["Properties"]["Environment"]["Variables"]
        assert "HUBBUB_WS_MANAGEMENT_URL" not in env, logical_id
        assert env["HUBBUB_SNS_TOPIC_ARN"] == {"Fn::ImportValue": "hubbub-dev-EventsTopicArn"}


def test_messages_may_publish_events_but_no_function_may_drop_or_scan_a_table(
    templates: dict[str, Template],
) -> None:
    messages = templates["messages"]
    statements = _statements(messages, messages["Resources"]["MessagesLambdaFunction"])
    assert _allowed(statements, "sns:Publish") == [{"Fn::ImportValue": "hubbub-dev-EventsTopicArn"}]
    assert _allowed(statements, "dynamodb:PutItem")
    for service, logical_id in _functions():
        template = templates[service]
        statements = _statements(template, template["Resources"][logical_id])
        for action in (
            "dynamodb:DeleteTable",
            "dynamodb:CreateTable",
            "dynamodb:Scan",
            "iam:PassRole",
        ):
            assert _allowed(statements, action) == [], (service, logical_id, action)
        for statement in statements:
            assert statement["Resource"] not in ("*", ["*"]), (service, logical_id, statement)


def test_each_function_gets_only_its_own_powers(templates: dict[str, Template]) -> None:
    def allowed(service: str, logical_id: str, action: str) -> bool:
        template = templates[service]
        return bool(_allowed(_statements(template, template["Resources"][logical_id]), action))

    assert not allowed("shared", "PreSignUpLambdaFunction", "dynamodb:GetItem")
    assert allowed("auth", "AuthLambdaFunction", "cognito-idp:AdminUserGlobalSignOut")
    # Deployed stages need the emailed code: nothing may confirm a sign-up in their place.
    auth = templates["auth"]
    auth_statements = _statements(auth, auth["Resources"]["AuthLambdaFunction"])
    denied = [s for s in auth_statements if s["Effect"] == "Deny"]
    assert [a for s in denied for a in s["Action"]] == [
        "cognito-idp:AdminConfirmSignUp",
        "cognito-idp:AdminUpdateUserAttributes",
    ]
    assert not _allowed(auth_statements, "cognito-idp:AdminConfirmSignUp")
    assert not allowed("messages", "MessagesLambdaFunction", "cognito-idp:AdminUserGlobalSignOut")
    assert not allowed("messages", "MessagesLambdaFunction", "execute-api:ManageConnections")
    # The Management API is reachable from outside the VPC only: the fan-out alone may use it,
    # on this stage's WebSocket API.
    for service, logical_id in _functions():
        manages = allowed(service, logical_id, "execute-api:ManageConnections")
        assert manages is (logical_id == "FanoutLambdaFunction"), logical_id
    realtime = templates["realtime"]
    fanout = _statements(realtime, realtime["Resources"]["FanoutLambdaFunction"])
    assert "WebSocketApiId" in json.dumps(_allowed(fanout, "execute-api:ManageConnections"))
    # ... and the connections table, nothing else: no other table, no topic.
    tables = json.dumps(_allowed(fanout, "dynamodb:Query"))
    assert "hubbub-dev-websocket-connections" in tables and "hubbub-dev-*" not in tables
    assert not _allowed(fanout, "dynamodb:PutItem")
    assert not _allowed(fanout, "sns:Publish")
    # Whatever publishes may publish to the events topic only.
    for service, logical_id in _functions():
        template = templates[service]
        topics = _allowed(_statements(template, template["Resources"][logical_id]), "sns:Publish")
        publishes = service != "shared" and logical_id != "FanoutLambdaFunction"
        expected = [{"Fn::ImportValue": "hubbub-dev-EventsTopicArn"}] if publishes else []
        assert topics == expected, logical_id
    # Only the fan-out's failures may reach the dead-letter queue.
    for service, logical_id in _functions():
        template = templates[service]
        statements = _statements(template, template["Resources"][logical_id])
        sends = _allowed(statements, "sqs:SendMessage")
        assert bool(sends) is (logical_id == "FanoutLambdaFunction"), logical_id


def test_the_user_pool_is_what_the_cognito_identity_expects(
    templates: dict[str, Template],
) -> None:
    pool = templates["shared"]["Resources"]["UserPool"]["Properties"]
    assert "UsernameAttributes" not in pool  # the username is our user id
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["LambdaConfig"]["PreSignUp"] == {"Fn::GetAtt": ["PreSignUpLambdaFunction", "Arn"]}
    client = templates["shared"]["Resources"]["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    assert client["EnableTokenRevocation"] is True
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_tables_are_on_demand_with_point_in_time_recovery_and_ttl_where_due(
    templates: dict[str, Template],
) -> None:
    tables = {
        t["Properties"]["TableName"]: t["Properties"]
        for t in _of_type(templates["shared"], "AWS::DynamoDB::Table").values()
    }
    for logical in ("users", "messages", "conversations", "conversation-members"):
        assert f"hubbub-dev-{logical}" in tables
    for name, props in tables.items():
        assert name.startswith("hubbub-dev-")
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], name
    connections = tables["hubbub-dev-websocket-connections"]
    assert connections["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_routes_attach_to_the_shared_apis_without_clashing(templates: dict[str, Template]) -> None:
    seen: dict[str, str] = {}
    for service in ("auth", "conversations", "messages", "realtime"):
        for route in _of_type(templates[service], "AWS::ApiGatewayV2::Route").values():
            props = route["Properties"]
            api = props["ApiId"]["Fn::ImportValue"]
            key = f"{api} {props['RouteKey']}"
            assert key not in seen, f"{key} in both {seen.get(key)} and {service}"
            seen[key] = service
    assert seen["hubbub-dev-HttpApiId ANY /api/auth/{proxy+}"] == "auth"
    assert seen["hubbub-dev-HttpApiId GET /api/sync"] == "messages"
    # A conversation's events reach conversations through its {proxy+} route.
    assert seen["hubbub-dev-HttpApiId ANY /api/conversations/{proxy+}"] == "conversations"
    assert not [key for key in seen if key.endswith("/events")]
    assert seen["hubbub-dev-WebSocketApiId $connect"] == "realtime"
    assert seen["hubbub-dev-WebSocketApiId $default"] == "realtime"


def test_default_answers_through_the_route_response(templates: dict[str, Template]) -> None:
    """`$default` replies with its return value, not through the Management API, which the
    VPC cannot reach: API Gateway sends it back only with a route response."""
    realtime = templates["realtime"]
    routes = {
        r["Properties"]["RouteKey"]: (logical_id, r["Properties"])
        for logical_id, r in _of_type(realtime, "AWS::ApiGatewayV2::Route").items()
    }
    route_id, default = routes["$default"]
    assert default["RouteResponseSelectionExpression"] == "$default"
    assert "DefaultWebsocketsIntegration" in json.dumps(default["Target"])
    responses = [
        r["Properties"] for r in _of_type(realtime, "AWS::ApiGatewayV2::RouteResponse").values()
    ]
    assert [(r["RouteId"], r["RouteResponseKey"]) for r in responses] == [
        ({"Ref": route_id}, "$default")
    ]


def test_templates_hold_no_account_id_secret_or_fixed_region(
    templates: dict[str, Template],
) -> None:
    for service, template in templates.items():
        text = json.dumps(template["Resources"])
        assert not re.search(r"(?<![\d.])\d{12}(?![\d.])", text), service
        assert "eu-west-1" not in text, service
    redis = _of_type(templates["shared"], "AWS::ElastiCache::ReplicationGroup")["Redis"]
    props = redis["Properties"]
    assert props["TransitEncryptionEnabled"] and props["AtRestEncryptionEnabled"]
    assert "{{resolve:secretsmanager:" in json.dumps(props["AuthToken"])


def _endpoints(template: Template) -> dict[str, dict[str, Any]]:
    found = {}
    for endpoint in _of_type(template, "AWS::EC2::VPCEndpoint").values():
        props = endpoint["Properties"]
        found[props["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]] = props
    return found


def test_the_vpc_reaches_aws_through_endpoints_without_a_nat_gateway(
    templates: dict[str, Template],
) -> None:
    shared = templates["shared"]
    for kind in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        assert not _of_type(shared, kind), kind
    routes = _of_type(shared, "AWS::EC2::Route")
    assert not routes  # nothing leaves the VPC but through the endpoints
    endpoints = _endpoints(shared)
    assert {name: props["VpcEndpointType"] for name, props in endpoints.items()} == {
        "dynamodb": "Gateway",
        "s3": "Gateway",
        "sns": "Interface",
        "cognito-idp": "Interface",
    }
    for name in ("sns", "cognito-idp"):
        props = endpoints[name]
        # Private DNS: the SDKs' usual host names (and Cognito's JWKS URL) resolve to them.
        assert props["PrivateDnsEnabled"] is True, name
        assert props["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}], name
        assert len(props["SubnetIds"]) == 2, name
    # PrivateLink serves a user pool only while it has no domain.
    assert not _of_type(shared, "AWS::Cognito::UserPoolDomain")


def test_security_groups_let_the_functions_reach_redis_and_the_endpoints_only(
    templates: dict[str, Template],
) -> None:
    resources = templates["shared"]["Resources"]
    lambda_sg = {"Ref": "LambdaSecurityGroup"}
    # Redis and the interface endpoints accept the functions' group only, on their port only.
    for group, port in (("RedisSecurityGroup", 6379), ("EndpointSecurityGroup", 443)):
        ingress = resources[group]["Properties"]["SecurityGroupIngress"]
        assert [(r["SourceSecurityGroupId"], r["FromPort"], r["ToPort"]) for r in ingress] == [
            (lambda_sg, port, port)
        ], group
    egress = {
        json.dumps(r["Properties"]["DestinationSecurityGroupId"]): r["Properties"]
        for r in _of_type(templates["shared"], "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == lambda_sg
    }
    redis = egress[json.dumps({"Ref": "RedisSecurityGroup"})]
    endpoints = egress[json.dumps({"Ref": "EndpointSecurityGroup"})]
    assert (redis["FromPort"], redis["ToPort"]) == (6379, 6379)
    assert (endpoints["FromPort"], endpoints["ToPort"]) == (443, 443)
    # Otherwise HTTPS only (the gateway endpoints' prefix lists; there is no other route).
    inline = resources["LambdaSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in inline] == [("tcp", 443, 443)]


def test_the_nat_gateway_and_the_endpoint_azs_are_stage_parameters(
    artifact: Path, templates: dict[str, Template]
) -> None:
    """natGateway=true adds one NAT gateway (the fallback if a service the VPC functions need
    is not served by an endpoint); the endpoints stay. endpointAzs=1 puts the interface
    endpoints in one subnet, for half their price."""
    path = aws_package.osls_package("shared", params=["natGateway=true", "endpointAzs=1"])
    aws_package.cfn_lint([path])
    shared = json.loads(path.read_text())
    assert len(_of_type(shared, "AWS::EC2::NatGateway")) == 1
    routes = [r["Properties"] for r in _of_type(shared, "AWS::EC2::Route").values()]
    assert any(
        r.get("NatGatewayId") == {"Ref": "NatGateway"}
        and r["RouteTableId"] == {"Ref": "PrivateRouteTable"}
        and r["DestinationCidrBlock"] == "0.0.0.0/0"
        for r in routes
    )
    endpoints = _endpoints(shared)
    assert set(endpoints) == {"dynamodb", "s3", "sns", "cognito-idp"}
    for name in ("sns", "cognito-idp"):
        assert endpoints[name]["SubnetIds"] == [{"Ref": "PrivateSubnetA"}], name


def test_the_artifact_holds_the_package_and_nothing_else(tmp_path: Path) -> None:
    artifact = aws_package.bundle_zip(with_dependencies=False, target=tmp_path / "code.zip")
    names = zipfile.ZipFile(artifact).namelist()
    assert "hubbub/aws/__init__.py" in names or "hubbub/bootstrap.py" in names
    assert all(name.startswith("hubbub/") for name in names)
    assert not [n for n in names if "__pycache__" in n or n.startswith("hubbub/static/")]
    requirements = " ".join(aws_package.lambda_requirements())
    assert "uvicorn" not in requirements and "psycopg" not in requirements
    assert "argon2-cffi" in requirements and "orjson" in requirements


def test_the_local_stage_runs_the_same_functions_outside_any_vpc(
    artifact: Path, templates: dict[str, Template]
) -> None:
    """infra/local (make aws-local) runs the services' own functions.yml files, and nothing
    else: the fan-out it runs is the deployed one (scripts/aws_local.py stands in for SNS)."""
    local = json.loads(aws_package.osls_package("local", stage="local").read_text())
    functions = _of_type(local, "AWS::Lambda::Function")
    deployed = {
        logical_id: handler
        for service, handlers in HANDLERS.items()
        if service != "shared"
        for logical_id, handler in handlers.items()
    }
    assert {k: f["Properties"]["Handler"] for k, f in functions.items()} == deployed
    for logical_id, function in functions.items():
        assert "VpcConfig" not in function["Properties"], logical_id
        env = function["Properties"]["Environment"]["Variables"]
        assert env["HUBBUB_AUTO_CONFIRM"] == "true"
        assert env["HUBBUB_DYNAMODB_TABLE_PREFIX"] == "hubbub-local-"
    env = functions["FanoutLambdaFunction"]["Properties"]["Environment"]["Variables"]
    assert env["HUBBUB_WS_MANAGEMENT_URL"] == "http://127.0.0.1:3001"


def test_the_local_stage_follows_the_management_url_it_is_given(
    artifact: Path, templates: dict[str, Template], monkeypatch: pytest.MonkeyPatch
) -> None:
    """scripts/aws_local.py moves the WebSocket port; the fan-out must post there."""
    monkeypatch.setenv("HUBBUB_WS_MANAGEMENT_URL", "http://127.0.0.1:4101")
    local = json.loads(aws_package.osls_package("local", stage="local").read_text())
    env = local["Resources"]["FanoutLambdaFunction"]["Properties"]["Environment"]["Variables"]
    assert env["HUBBUB_WS_MANAGEMENT_URL"] == "http://127.0.0.1:4101"


def test_the_local_configuration_cannot_be_packaged_for_another_stage(
    artifact: Path, templates: dict[str, Template], capsys: pytest.CaptureFixture[str]
) -> None:
    """infra/local holds a development token key: it must never reach AWS."""
    with pytest.raises(SystemExit):
        aws_package.osls_package("local", stage="dev")
    assert "localStageOnly" in capsys.readouterr().err
