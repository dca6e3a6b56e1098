//! Streaming protocols of exec, attach and port-forward.
