from inference import aws


def test_clients_default_to_us_east_1(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.get_session.cache_clear()
    s3 = aws.client("s3")
    assert s3.meta.region_name == "us-east-1"
    assert s3.meta.endpoint_url.startswith("https://s3.")


def test_endpoint_url_points_every_client_at_a_local_server(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")
    assert aws.client("s3").meta.endpoint_url == "http://127.0.0.1:5055"
    assert aws.client("bedrock", region="us-east-1").meta.endpoint_url == "http://127.0.0.1:5055"


def test_profile_and_region_come_from_the_named_profile(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.write_text("[profile ml-sandbox]\nregion = us-east-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[ml-sandbox]\naws_access_key_id = a\naws_secret_access_key = b\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    aws.get_session.cache_clear()
    session = aws.get_session("ml-sandbox", "eu-west-1")
    assert session.profile_name == "ml-sandbox" and session.region_name == "eu-west-1"
    assert session.get_credentials().access_key == "a"
    assert aws.client("sagemaker", profile="ml-sandbox").meta.region_name == "us-east-1"
    aws.get_session.cache_clear()


def test_a_service_specific_endpoint_wins_for_that_service_only(monkeypatch):
    """A local stand-in for what moto lacks (Bedrock Runtime) beside moto for the rest."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:6066")
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:7077")
    assert aws.client("bedrock-runtime").meta.endpoint_url == "http://127.0.0.1:6066"
    assert aws.client("logs").meta.endpoint_url == "http://127.0.0.1:7077"  # botocore's service id, not the name
    assert aws.client("bedrock").meta.endpoint_url == "http://127.0.0.1:5055"
    assert aws.client("s3").meta.endpoint_url == "http://127.0.0.1:5055"
