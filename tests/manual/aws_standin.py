"""A local stand-in for the Bedrock operations moto lacks, in front of a moto server.

The manual's runner points `AWS_ENDPOINT_URL_BEDROCK` and `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` here
(botocore and `inference.aws` honour service-specific endpoints); every other service goes to
moto directly, and every Bedrock request this module does not answer itself is passed to moto
unchanged. Answers have the real response shapes (botocore's service models):

- bedrock-runtime `Converse`: refuses a model id that is not a deployment, provisioned model or
  base model it knows (as Bedrock does); otherwise answers with the JSON object the LLM agent asks
  for, taken from the prompt's first "Similar catalogue products" hint (its brand, category and
  similarity), else from a detected BRAND entity. It is a nearest-neighbour echo, not a model.
- bedrock `CreateCustomModelDeployment` / `GetCustomModelDeployment` / `ListCustomModelDeployments`
  and `CreateProvisionedModelThroughput` / `GetProvisionedModelThroughput`: kept in memory, Active
  (InService) at once; the model must be a custom model moto knows.
- bedrock `GetModelCustomizationJob`: moto's answer, except that a job (which moto keeps
  InProgress forever) is Completed when first read, its `outputModelArn` names the custom model
  moto created for it, and the metrics files a real job writes are put under its output folder
  in moto's S3. Their loss curves are SYNTHETIC: a decay set by the hyperparameters, so that a
  hyperparameter search has something to rank; they say nothing about Nova.

`calls()` counts the operations answered here (GET /_standin/calls over HTTP), so the runner can
say which blocks used the stand-in.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import math
import re
import threading
import uuid
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
_NEIGHBOUR = re.compile(r"^\d+\. (?P<name>.+?) \| brand: (?P<brand>.+?) \| category: (?P<category>.+?)"
                        r"(?: \| similarity: (?P<similarity>-?[\d.]+))?$")
_ENTITY = re.compile(r"^- (?P<label>BRAND|CATEGORY): (?P<text>.+) \((?P<confidence>[\d.]+)\)$")
STEPS_PER_EPOCH = 5


class StandinError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def answer_from_prompt(user_text: str) -> dict[str, Any]:
    """The agent's JSON answer from the hints in its own prompt (first neighbour, else BRAND entity)."""
    for line in user_text.splitlines():
        match = _NEIGHBOUR.match(line.strip())
        if match:
            unknown = lambda v: None if v == "unknown" else v  # noqa: E731
            similarity = float(match["similarity"]) if match["similarity"] else 0.5
            confidence = round(min(1.0, max(0.0, similarity)), 3)
            brand, category = unknown(match["brand"]), unknown(match["category"])
            return {"brand": brand, "category": category, "brand_confidence": confidence if brand else 0.0,
                    "category_confidence": confidence if category else 0.0}
    found: dict[str, tuple[str, float]] = {}
    for line in user_text.splitlines():
        match = _ENTITY.match(line.strip())
        if match and match["label"] not in found:
            found[match["label"]] = (match["text"].strip("'\""), float(match["confidence"]))
    brand, brand_confidence = found.get("BRAND", (None, 0.0))
    category, category_confidence = found.get("CATEGORY", (None, 0.0))
    return {"brand": brand, "category": category, "brand_confidence": round(brand_confidence, 3),
            "category_confidence": round(category_confidence, 3)}


def loss_curves(hyperparameters: dict[str, str], with_validation: bool) -> dict[str, str]:
    """Synthetic step-wise training (and validation) loss CSVs in Bedrock's columns."""
    epochs = int(hyperparameters.get("epochCount", "2"))
    rate = float(hyperparameters.get("learningRate", "0.00001"))
    decay = rate * 4000.0  # 1e-4 -> 0.4 a step
    training = io.StringIO()
    writer = csv.writer(training)
    writer.writerow(["step_number", "epoch_number", "training_loss", "perplexity"])
    validation = io.StringIO()
    vwriter = csv.writer(validation)
    vwriter.writerow(["step_number", "epoch_number", "validation_loss"])
    step = 0
    for epoch in range(1, epochs + 1):
        for _ in range(STEPS_PER_EPOCH):
            step += 1
            loss = 0.25 + 1.75 * math.exp(-decay * step)
            writer.writerow([step, epoch, f"{loss:.4f}", f"{math.exp(loss):.4f}"])
        # validation: the same decay, plus an overfitting term that grows with the epochs
        vloss = 0.35 + 1.75 * math.exp(-decay * step) + 0.04 * max(0, epoch - 3)
        vwriter.writerow([step, epoch, f"{vloss:.4f}"])
    curves = {"training": training.getvalue()}
    if with_validation:
        curves["validation"] = validation.getvalue()
    return curves


def _final_loss(curve: str) -> float:
    return float(curve.strip().splitlines()[-1].split(",")[2])


class BedrockStandin:
    """The operations above; `moto_url` answers everything else."""

    def __init__(self, moto_url: str):
        self.moto_url = moto_url.rstrip("/")
        self.counts: Counter[str] = Counter()
        self.deployments: dict[str, dict[str, Any]] = {}   # by ARN
        self.provisioned: dict[str, dict[str, Any]] = {}   # by ARN
        self.completed_jobs: dict[str, dict[str, Any]] = {}  # job name -> fields overriding moto's answer
        self.lock = threading.Lock()

    # -- moto ------------------------------------------------------------------------------------
    def _moto_client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.moto_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(self.moto_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection", "content-length")}
            connection.request(method, path, body=body or None, headers=sent)
            response = connection.getresponse()
            data = response.read()
            kept = {k: v for k, v in response.getheaders()
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date")}
            return response.status, kept, data
        finally:
            connection.close()

    def _custom_model(self, identifier: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return self._moto_client("bedrock").get_custom_model(modelIdentifier=identifier)
        except ClientError:
            raise StandinError(404, "ResourceNotFoundException", f"Custom model {identifier} not found") from None

    # -- dispatch ------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        route = urlsplit(path).path
        try:
            answered = self._answer(method, route, path, headers, body)
        except StandinError as exc:
            return exc.status, {"Content-Type": "application/json", "x-amzn-ErrorType": exc.code}, \
                json.dumps({"message": exc.message}).encode()
        if answered is None:
            return self.forward(method, path, headers, body)
        status, doc, operation = answered
        with self.lock:
            self.counts[operation] += 1
        return status, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps(doc).encode()

    def _answer(self, method, route, path, headers, body):
        segments = [unquote(s) for s in route.strip("/").split("/")]
        if method == "POST" and len(segments) == 3 and segments[0] == "model" and segments[2] == "converse":
            return 200, self.converse(segments[1], json.loads(body or b"{}")), "Converse"
        if segments[:2] == ["model-customization", "custom-model-deployments"]:
            if method == "POST" and len(segments) == 2:
                return 202, self.create_deployment(json.loads(body or b"{}")), "CreateCustomModelDeployment"
            if method == "GET" and len(segments) == 3:
                return 200, self.get_deployment(segments[2]), "GetCustomModelDeployment"
            if method == "GET" and len(segments) == 2:
                return 200, {"modelDeploymentSummaries": [self._summary(d) for d in self.deployments.values()]}, \
                    "ListCustomModelDeployments"
        if segments[0] == "provisioned-model-throughput":
            if method == "POST" and len(segments) == 1:
                return 201, self.create_provisioned(json.loads(body or b"{}")), "CreateProvisionedModelThroughput"
            if method == "GET" and len(segments) == 2:
                return 200, self.get_provisioned(segments[1]), "GetProvisionedModelThroughput"
        if method == "GET" and len(segments) == 2 and segments[0] == "model-customization-jobs":
            return self.get_job(path, headers)
        return None

    # -- Converse --------------------------------------------------------------------------------------
    def _known_model(self, model_id: str) -> bool:
        if model_id in self.deployments or model_id in self.provisioned:
            return True
        if any(d["modelDeploymentName"] == model_id for d in self.deployments.values()):
            return True
        return model_id.startswith(("amazon.", "anthropic.", "meta.", "us.", "arn:aws:bedrock:us-east-1::foundation-model/"))

    def converse(self, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        if not self._known_model(model_id):
            raise StandinError(400, "ValidationException", "The provided model identifier is invalid.")
        messages = request.get("messages") or []
        if not messages or messages[-1].get("role") != "user":
            raise StandinError(400, "ValidationException", "A conversation must end with a user message.")
        user_text = "\n".join(block.get("text", "") for block in messages[-1].get("content", []))
        text = json.dumps(answer_from_prompt(user_text), ensure_ascii=False)
        prompt_words = len(user_text.split()) + sum(len(s.get("text", "").split()) for s in request.get("system", []))
        return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
                "usage": {"inputTokens": prompt_words, "outputTokens": len(text.split()),
                          "totalTokens": prompt_words + len(text.split())},
                "metrics": {"latencyMs": 1}}

    # -- deployments -----------------------------------------------------------------------------------
    def create_deployment(self, request: dict[str, Any]) -> dict[str, Any]:
        name, model_arn = request.get("modelDeploymentName"), request.get("modelArn")
        if not name or not model_arn:
            raise StandinError(400, "ValidationException", "modelDeploymentName and modelArn are required")
        if any(d["modelDeploymentName"] == name for d in self.deployments.values()):
            raise StandinError(409, "ConflictException", f"Deployment {name} already exists")
        model = self._custom_model(model_arn)
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/{uuid.uuid4().hex[:12]}"
        with self.lock:
            self.deployments[arn] = {"customModelDeploymentArn": arn, "modelDeploymentName": name,
                                     "modelArn": model["modelArn"], "createdAt": _now(), "lastUpdatedAt": _now(),
                                     "status": "Active", "description": request.get("description", "")}
        return {"customModelDeploymentArn": arn}

    def _deployment(self, identifier: str) -> dict[str, Any]:
        for arn, deployment in self.deployments.items():
            if identifier in (arn, deployment["modelDeploymentName"]):
                return deployment
        raise StandinError(404, "ResourceNotFoundException", f"Custom model deployment {identifier} not found")

    def get_deployment(self, identifier: str) -> dict[str, Any]:
        return dict(self._deployment(identifier))

    @staticmethod
    def _summary(deployment: dict[str, Any]) -> dict[str, Any]:
        keys = ("customModelDeploymentArn", "modelDeploymentName", "modelArn", "createdAt", "status", "lastUpdatedAt")
        return {"customModelDeploymentName": deployment["modelDeploymentName"],
                **{k: deployment[k] for k in keys if k != "modelDeploymentName"}}

    def create_provisioned(self, request: dict[str, Any]) -> dict[str, Any]:
        name, model_id, units = request.get("provisionedModelName"), request.get("modelId"), request.get("modelUnits")
        if not name or not model_id or not isinstance(units, int) or units < 1:
            raise StandinError(400, "ValidationException", "provisionedModelName, modelId and modelUnits >= 1 are required")
        model = self._custom_model(model_id)
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/{uuid.uuid4().hex[:12]}"
        with self.lock:
            self.provisioned[arn] = {"provisionedModelArn": arn, "provisionedModelName": name, "modelArn": model["modelArn"],
                                     "desiredModelArn": model["modelArn"], "foundationModelArn": model.get("baseModelArn", ""),
                                     "modelUnits": units, "desiredModelUnits": units, "status": "InService",
                                     "creationTime": _now(), "lastModifiedTime": _now(),
                                     **({"commitmentDuration": request["commitmentDuration"]}
                                        if request.get("commitmentDuration") else {})}
        return {"provisionedModelArn": arn}

    def get_provisioned(self, identifier: str) -> dict[str, Any]:
        for arn, provisioned in self.provisioned.items():
            if identifier in (arn, provisioned["provisionedModelName"]):
                return dict(provisioned)
        raise StandinError(404, "ResourceNotFoundException", f"Provisioned model {identifier} not found")

    # -- customization jobs ---------------------------------------------------------------------------
    def get_job(self, path: str, headers: dict[str, str]):
        status, _, data = self.forward("GET", path, headers, b"")
        if status != 200:
            raise StandinError(status, json.loads(data or b"{}").get("__type", "ResourceNotFoundException"),
                               json.loads(data or b"{}").get("message", "not found"))
        job = json.loads(data)
        if job.get("status") == "InProgress":
            with self.lock:
                if job["jobName"] not in self.completed_jobs:
                    self.completed_jobs[job["jobName"]] = self._complete(job)
        if job["jobName"] in self.completed_jobs:
            for key in ("failureMessage", "validationMetrics"):  # moto fills both for every job
                job.pop(key, None)
            job.update(self.completed_jobs[job["jobName"]])
        return 200, job, "GetModelCustomizationJob (completed by the stand-in)"

    def _complete(self, job: dict[str, Any]) -> dict[str, Any]:
        """Write the job's metrics files to its output folder; the fields a completed job has."""
        bedrock, s3 = self._moto_client("bedrock"), self._moto_client("s3")
        models = bedrock.list_custom_models().get("modelSummaries", [])
        model = next((m for m in models if bedrock.get_custom_model(modelIdentifier=m["modelArn"]).get("jobArn")
                      == job["jobArn"]), None)
        job_id = job["jobArn"].rsplit("/", 1)[-1]
        output = job.get("outputDataConfig", {}).get("s3Uri", "")
        curves = loss_curves(job.get("hyperParameters", {}), bool(job.get("validationDataConfig")))
        fields: dict[str, Any] = {"trainingMetrics": {"trainingLoss": _final_loss(curves["training"])}}
        if "validation" in curves:
            fields["validationMetrics"] = [{"validationLoss": _final_loss(curves["validation"])}]
        if output.startswith("s3://"):
            bucket, _, prefix = output[5:].partition("/")
            base = f"{prefix.rstrip('/')}/model-customization-job-{job_id}/".lstrip("/")
            s3.put_object(Bucket=bucket, Key=base + "training_artifacts/step_wise_training_metrics.csv",
                          Body=curves["training"].encode())
            if "validation" in curves:
                s3.put_object(Bucket=bucket, Key=base + "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
                              Body=curves["validation"].encode())
        fields.update(status="Completed", endTime=_now(), lastModifiedTime=_now(),
                      statusDetails={s: {"status": "Completed"} for s in
                                     ("validationDetails", "dataProcessingDetails", "trainingDetails")})
        if model:
            fields.update(outputModelArn=model["modelArn"], outputModelName=model["modelName"])
        return fields


class _Handler(BaseHTTPRequestHandler):
    standin: BedrockStandin

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_standin/calls":
            status, headers, data = 200, {"Content-Type": "application/json"}, json.dumps(self.standin.counts).encode()
        else:
            status, headers, data = self.standin.handle(self.command, self.path, dict(self.headers), body)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


class StandinServer:
    """The stand-in on a loopback port, in a background thread: `with StandinServer(moto) as url:`."""

    def __init__(self, moto_url: str, port: int = 0):
        self.standin = BedrockStandin(moto_url)
        handler = type("Handler", (_Handler,), {"standin": self.standin})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "StandinServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self) -> Counter[str]:
        with self.standin.lock:
            return Counter(self.standin.counts)
