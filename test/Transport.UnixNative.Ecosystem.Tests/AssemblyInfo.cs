// Unix sockets, socket file modes and python3-grpcio: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
