FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bandhub bandhub
COPY gateway gateway
COPY ingest ingest
COPY alerts alerts
COPY analytics analytics
COPY api api
COPY firmware_sim firmware_sim
COPY stack stack
RUN pip install --no-cache-dir .
RUN mkdir -p /var/lib/bandhub && chown nobody /var/lib/bandhub
USER nobody
ENTRYPOINT ["bandhub"]
