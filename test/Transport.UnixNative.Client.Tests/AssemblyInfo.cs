using System.Runtime.Versioning;

// Unix domain sockets, SO_PEERCRED, /proc: these tests are Linux-only, like the library.
[assembly: SupportedOSPlatform("linux")]
