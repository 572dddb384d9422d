# One image for the MLflow server, the Ray head and the Ray GPU workers: the project installed
# over a CUDA build of torch. Torch's CUDA wheels carry their own CUDA runtime, so a plain Python
# base suffices; the host needs only the NVIDIA driver and container toolkit.
FROM python:3.11-slim

# The versions the project is tested with (pyproject's upper bounds), built for CUDA 13.0.
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu130

# Every dependency ships wheels, so no compilers are installed.
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX}" \
        "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"

WORKDIR /opt/orchestrate
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY models ./models
COPY search_spaces ./search_spaces
# `server`: the Postgres driver and boto3 that the MLflow server and S3 checkpoints need.
# Editable, so `orchestrate sweep quickstart.yaml` finds the specs under search_spaces/.
RUN pip install --no-cache-dir -e ".[server]" \
        "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" \
    && useradd --create-home --uid 1000 orchestrate \
    && mkdir -p /data /mlflow/auth && chown orchestrate /data /mlflow/auth

USER orchestrate
WORKDIR /home/orchestrate
ENV ORCHESTRATE_DATA=/data
