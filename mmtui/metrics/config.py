"""The ``metrics:`` config section (off by default; loopback unless allowed)."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_PORT = 9464
"""The port Prometheus' registry of exporter ports lists for OpenTelemetry/Prometheus
exporters; any free port does."""


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="serve Prometheus metrics over HTTP")
    host: str = Field(default="127.0.0.1", min_length=1, description="address to listen on")
    port: int = Field(
        default=DEFAULT_PORT, ge=0, le=65535, description="TCP port (0: any free port)"
    )
    allow_remote: bool = Field(
        default=False,
        description="allow a host that is not loopback (the endpoint has no authentication)",
    )

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> MetricsConfig:
        if not self.allow_remote and not is_loopback_host(self.host):
            raise ValueError(
                f"host {self.host!r} is not loopback: the metrics endpoint has no "
                "authentication (set allow_remote: true to listen there anyway)"
            )
        return self
