"""OpenTelemetry's settings: every process's, read where tracing is set up
(``runtime/tracing.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.config.declared import DeclaredSettings, setting


@dataclass(frozen=True)
class TraceSettings(DeclaredSettings):
    """OpenTelemetry's standard variables that turn tracing on and shape it
    (``runtime/tracing.py``); the SDK reads the others it knows (``OTEL_EXPORTER_OTLP_HEADERS``,
    timeouts) itself."""

    otel_exporter_otlp_endpoint: str | None = setting(
        None,
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        doc="set: every process sends its spans there over OTLP/HTTP (`/v1/traces`); unset:"
        " tracing is off, at no cost (`make up TRACES=1` sets it)",
    )
    otel_exporter_otlp_traces_endpoint: str | None = setting(
        None, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", doc="the same, for traces only, in full"
    )
    otel_service_name: str | None = setting(
        None, "OTEL_SERVICE_NAME", doc="the spans' `service.name`; unset: the function's name"
    )
    otel_traces_sampler: str = setting(
        "parentbased_always_on",
        "OTEL_TRACES_SAMPLER",
        doc="which traces are kept; `parentbased_traceidratio` with OTEL_TRACES_SAMPLER_ARG"
        " `0.01` keeps 1 workflow in 100, whole",
    )
    otel_traces_sampler_arg: str | None = setting(
        None, "OTEL_TRACES_SAMPLER_ARG", doc="the sampler's ratio, 0 to 1"
    )
    otel_sdk_disabled: str = setting(
        "false", "OTEL_SDK_DISABLED", doc="`true`: no tracing, whatever the endpoint"
    )

    @property
    def tracing(self) -> bool:
        endpoint = self.otel_exporter_otlp_traces_endpoint or self.otel_exporter_otlp_endpoint
        return bool(endpoint) and self.otel_sdk_disabled.lower() != "true"

    @property
    def trace_ratio(self) -> float:
        """The share of workflows the sampler keeps, when tracing is on."""
        if "traceidratio" in self.otel_traces_sampler:
            return float(self.otel_traces_sampler_arg or 1.0)
        return 0.0 if "always_off" in self.otel_traces_sampler else 1.0
