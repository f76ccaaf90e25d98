FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub hub
COPY projects projects
COPY jobs jobs
COPY replication replication
# With the S3 backend's client (boto3), so one image serves every OBJECT_STORE.
RUN pip install '.[s3]'
COPY manage.py ./
COPY templates templates
COPY static static
RUN useradd --create-home hub && mkdir -p /data && chown hub /data
USER hub
# Plain http and https (the certificate: TLS_CERT_FILE and TLS_KEY_FILE, else the hub's own authority in /data/tls).
EXPOSE 8000 8443
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000", "--https-port", "8443", "--no-worker"]
