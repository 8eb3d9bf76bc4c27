"""Distributed studies: keras-tuner's chief and workers, with `GridOracle` as the chief's oracle.

keras-tuner spreads a search over processes: the chief serves the oracle over gRPC, workers ask
it for trials, train them and report back; they find each other through the environment
variables `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`, and they
share the project directory. Three of keras-tuner 1.4.8's waits are replaced here:

- a worker waits at most `connect_timeout` seconds for the chief (keras-tuner: up to an hour);
- the chief returns as soon as the grid is finished and the workers it knows have been told
  to stop, waiting at most `grace` seconds for a worker that died (keras-tuner polls every 20 s
  and waits for every worker that ever asked for a trial, keras-tuner #915);
- an error in an oracle call is printed by the chief and sent to the worker as a gRPC error,
  and the chief goes on serving.

keras-tuner has no public API for its gRPC service, so its servicer and protocol buffers are
imported from `keras_tuner.src` here and nowhere else.
"""

import contextlib
import dataclasses
import os
import time
from concurrent import futures

from kerasbio._core.validation import invalid_argument, validate_choice, validate_range

CHIEF, WORKER = "chief", "worker"
ROLES = (CHIEF, WORKER)
ENVIRONMENT = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
RPCS = ("GetSpace", "UpdateSpace", "CreateTrial", "UpdateTrial", "EndTrial", "GetTrial",
        "GetBestTrials")


@dataclasses.dataclass(frozen=True)
class Distribution:
    """This process's part in a distributed study.

    Args:
        role: `"chief"` (serves the grid oracle) or `"worker"` (runs trials).
        address: `HOST:PORT`; the chief listens on it (`0.0.0.0:PORT` for every interface),
            workers connect to it.
        tuner_id: The worker's name, unique among the workers and the same when a worker is
            restarted (it then reruns the trial it was running). The workers of one
            `multi_worker` cluster share it. The chief's is `"chief"`.
        connect_timeout: Seconds a worker waits for the chief before giving up.
    """

    role: str
    address: str
    tuner_id: str = CHIEF
    connect_timeout: float = 60.0

    def __post_init__(self):
        validate_choice("role", self.role, ROLES)
        self._split()
        validate_range("connect_timeout", self.connect_timeout, low=0, low_open=True)
        if not isinstance(self.tuner_id, str) or not self.tuner_id:
            raise invalid_argument("tuner_id", "a non-empty string", self.tuner_id)
        if (self.role == CHIEF) != (CHIEF in self.tuner_id):
            raise invalid_argument(
                "tuner_id", "'chief' for the chief, and a name without 'chief' for a worker "
                "(keras-tuner tells them apart by it)", self.tuner_id)

    @property
    def host(self):
        return self._split()[0]

    @property
    def port(self):
        return self._split()[1]

    def _split(self):
        host, _, port = str(self.address).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise invalid_argument("address", "HOST:PORT with a port from 1 to 65535",
                                   self.address)
        return host, int(port)

    @classmethod
    def from_environment(cls, role, address=None, tuner_id=None, connect_timeout=60.0):
        """A `Distribution` whose missing address and tuner id come from keras-tuner's
        environment variables (`KERASTUNER_ORACLE_IP`/`_PORT`, `KERASTUNER_TUNER_ID`)."""
        if address is None and "KERASTUNER_ORACLE_IP" in os.environ:
            address = (f"{os.environ['KERASTUNER_ORACLE_IP']}:"
                       f"{os.environ.get('KERASTUNER_ORACLE_PORT', '')}")
        if address is None:
            raise ValueError(f"A distributed {role} needs the chief's address: pass --oracle "
                             f"HOST:PORT or set KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT.")
        if role == CHIEF:
            tuner_id = CHIEF
        tuner_id = tuner_id or os.environ.get("KERASTUNER_TUNER_ID")
        if not tuner_id:
            raise ValueError("A distributed worker needs a name: pass --tuner-id ID (unique "
                             "per worker, the same when it is restarted) or set "
                             "KERASTUNER_TUNER_ID.")
        return cls(role, address, tuner_id, connect_timeout)


@contextlib.contextmanager
def tuner_environment(distribution):
    """Set keras-tuner's environment variables for `distribution` (none if it is `None`)
    while the block runs, and restore the previous values afterwards."""
    saved = {name: os.environ.get(name) for name in ENVIRONMENT}
    if distribution is not None:
        os.environ.update(zip(ENVIRONMENT, (distribution.tuner_id, distribution.host,
                                            str(distribution.port))))
    else:
        for name in ENVIRONMENT:
            os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def wait_for_chief(distribution):
    """Return once the chief at `distribution.address` accepts connections; raise
    `ConnectionError` after `distribution.connect_timeout` seconds."""
    import grpc

    channel = grpc.insecure_channel(distribution.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=distribution.connect_timeout)
    except grpc.FutureTimeoutError:
        raise ConnectionError(
            f"No chief oracle answered at {distribution.address} within "
            f"{distribution.connect_timeout:g} s (--connect-timeout). Start the chief first "
            f"(`kerasbio study NAME ... --distributed chief --oracle {distribution.address}`), "
            f"and check the address and that this machine can reach the port.") from None
    finally:
        channel.close()


def run_worker(tuner, distribution):
    """Run `tuner`'s search as a worker of the chief at `distribution.address`.

    When the chief dies, the worker waits for it to be restarted (keras-tuner's calls wait
    up to an hour), resends the call the chief's death cut off (the oracle takes a resent call
    once), and reconnects within 5 s of the chief's return (gRPC's default backoff grows to
    two minutes). An error the chief returns ends the worker with a `ConnectionError` that
    says so. A killed worker restarted under the same tuner id reruns its trial.
    """
    import grpc

    from keras_tuner.src import protos

    channel = grpc.insecure_channel(distribution.address,
                                    options=[("grpc.max_reconnect_backoff_ms", 5000)])
    tuner.oracle.stub = _ResendingStub(protos.get_service_grpc().OracleStub(channel))
    try:
        tuner.search()
    except grpc.RpcError as error:
        raise ConnectionError(f"Worker {distribution.tuner_id}: the chief at "
                              f"{distribution.address} answered {error.code().name}: "
                              f"{error.details()}") from error
    finally:
        channel.close()


class _ResendingStub:
    """An oracle stub that resends a call cut off by the chief's death (gRPC UNAVAILABLE)."""

    def __init__(self, stub, attempts=10, pause=1.0):
        self._stub, self._attempts, self._pause = stub, attempts, pause

    def __getattr__(self, name):
        import grpc

        call = getattr(self._stub, name)

        def resent(request, **kwargs):
            for attempt in range(self._attempts):
                try:
                    return call(request, **kwargs)
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.UNAVAILABLE or \
                            attempt == self._attempts - 1:
                        raise
                    time.sleep(self._pause)

        return resent


def serve_grid(oracle, address, on_trial_end=None, echo=print, grace=10.0, quiet=1.0,
               poll=0.05):
    """Serve `oracle` (a `GridOracle`) to workers at `address` until its grid is finished.

    Returns when every trial is finished, every worker that asked for a trial has been told
    to stop and no call came for `quiet` seconds (the workers of a `multi_worker` cluster share
    a tuner id, and each asks), or `grace` seconds after the grid finished (a worker that died
    is not waited for).

    Args:
        oracle: The chief's `GridOracle` (its project directory set).
        address: `HOST:PORT` to listen on.
        on_trial_end: Called with each trial that finishes (progress lines).
        echo: Prints the oracle errors reported to workers.
        grace: Seconds to wait, after the last trial, for workers to ask for another.
        quiet: Seconds without a call after which the workers are taken to be gone.
        poll: Seconds between checks.
    """
    servicer = _servicer(oracle, echo)
    server = _start_server(servicer, address)
    try:
        reported = len(oracle.end_order)
        while not oracle.is_finished():
            time.sleep(poll)
            reported = _report_ended(oracle, reported, on_trial_end)
        _report_ended(oracle, reported, on_trial_end)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (
                oracle.tuner_ids or time.monotonic() - servicer.last_call < quiet):
            time.sleep(poll)
    finally:
        server.stop(grace=1).wait()


def _report_ended(oracle, reported, on_trial_end):
    ended = list(oracle.end_order)
    for trial_id in ended[reported:]:
        if on_trial_end is not None:
            on_trial_end(oracle.trials[trial_id])
    return len(ended)


def _start_server(servicer, address):
    """A gRPC server with one thread: oracle calls run one at a time, and keras-tuner's
    per-oracle lock (kept by a call that raised) belongs to that same thread."""
    import grpc

    from keras_tuner.src import protos

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise OSError(f"The chief cannot listen on {address}: is the port in use or the host "
                      f"not this machine's? Choose another --oracle HOST:PORT.")
    server.start()
    return server


def _servicer(oracle, echo):
    """keras-tuner's oracle servicer, whose calls print and return their errors and record
    when the last one came (`last_call`, `time.monotonic()`)."""
    import grpc

    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    def reported(name):
        call = getattr(OracleServicer, name)

        def method(self, request, context):
            self.last_call = time.monotonic()
            try:
                return call(self, request, context)
            except Exception as error:  # noqa: BLE001 (sent to the worker, the chief serves on)
                echo(f"chief: {name} failed: {type(error).__name__}: {error}")
                context.abort(grpc.StatusCode.INTERNAL,
                              f"The chief oracle failed in {name}: {type(error).__name__}: "
                              f"{error}")

        return method

    servicer_class = type("ReportingOracleServicer", (OracleServicer,),
                          {name: reported(name) for name in RPCS})
    servicer = servicer_class(oracle)
    servicer.last_call = time.monotonic()
    return servicer


def use_gpus(gpus=None):
    """Restrict this process to the GPUs `gpus` and turn memory growth on for them.

    Memory growth makes TensorFlow take GPU memory as it needs it rather than all of it, so
    that several workers can share a GPU (keras-tuner #329, #413). Both must happen before
    TensorFlow first uses a GPU; on GPUs already in use, memory growth stays as it is.

    Args:
        gpus: Indices among the GPUs this process sees (after `CUDA_VISIBLE_DEVICES`), e.g.
            `"0,1"` or `[1]`; `None` keeps all.
    """
    import tensorflow as tf

    physical = tf.config.list_physical_devices("GPU")
    if gpus is not None:
        indices = _gpu_indices(gpus)
        if max(indices) >= len(physical):
            raise invalid_argument("gpus", f"indices of the {len(physical)} GPU(s) this "
                                   f"process sees", gpus)
        physical = [physical[index] for index in indices]
        try:
            tf.config.set_visible_devices(physical, "GPU")
        except RuntimeError as error:
            raise RuntimeError(f"--gpus {gpus}: TensorFlow already uses the GPUs in this "
                               f"process; choose them before anything runs on them (or set "
                               f"CUDA_VISIBLE_DEVICES).") from error
    for gpu in physical:
        with contextlib.suppress(RuntimeError):  # already initialized: nothing to change
            tf.config.experimental.set_memory_growth(gpu, True)


def _gpu_indices(gpus):
    parts = gpus.split(",") if isinstance(gpus, str) else list(gpus)
    try:
        indices = [int(part) for part in parts]
    except (TypeError, ValueError):
        indices = []
    if not indices or min(indices) < 0 or len(set(indices)) != len(indices):
        raise invalid_argument("gpus", "distinct GPU indices such as '0,1'", gpus)
    return indices
