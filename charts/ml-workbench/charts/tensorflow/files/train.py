"""Example training program shipped with the chart: reads TF_CONFIG, trains a small model on
synthetic data with the strategy the cluster calls for, and saves it for TensorFlow Serving.
Replace it with your own (training.script, or training.command with your image)."""

import json
import os

import tensorflow as tf

config = json.loads(os.environ["TF_CONFIG"])
task = config["task"]
cluster = config["cluster"]
print(f"task {task['type']}:{task['index']} in cluster {cluster}", flush=True)

resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()

if "ps" in cluster:
    # Parameter-server training: ps and workers serve, the chief coordinates.
    if task["type"] in ("ps", "worker"):
        server = tf.distribute.Server(
            resolver.cluster_spec(), job_name=task["type"], task_index=task["index"],
            protocol=resolver.rpc_layer or "grpc", start=True)
        server.join()
    strategy = tf.distribute.ParameterServerStrategy(resolver)
else:
    # Synchronous all-reduce training over the workers (worker 0 acts as chief).
    strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)

if task["type"] == "evaluator":
    print("evaluator: nothing to evaluate in the example", flush=True)
    raise SystemExit(0)

with strategy.scope():
    model = tf.keras.Sequential([tf.keras.Input(shape=(8,)), tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")

x = tf.random.normal((1024, 8), seed=1)
y = tf.reduce_sum(x, axis=1, keepdims=True)
dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).repeat().batch(64)
model.fit(dataset, epochs=int(os.environ.get("EPOCHS", "3")), steps_per_epoch=16)

# Only the chief (or worker 0) writes the model, where Serving finds it: <dir>/<version>/.
is_chief = task["type"] == "chief" or (task["type"] == "worker" and task["index"] == 0 and "chief" not in cluster)
export_dir = os.environ.get("EXPORT_DIR", "")
if is_chief and export_dir:
    version = os.environ.get("MODEL_VERSION", "1")
    tf.saved_model.save(model, os.path.join(export_dir, version))
    print(f"saved model to {export_dir}/{version}", flush=True)
