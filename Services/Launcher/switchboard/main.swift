// switchboard: runs edge and the four services as separate processes on one machine, forwards their output,
// restarts any that exits, and stops them in order (edge first) on SIGINT or SIGTERM.
import Foundation

DataDirectory.restrictNewFiles()
let config: LauncherConfig
do { config = try LauncherConfig.fromEnvironment() } catch { Console.fail("\(error)") }
let supervisor = Supervisor(config: config)
let signals = SignalTrap { signo in Task { await supervisor.stop(signal: signo) } }
await supervisor.run()
exit(await supervisor.failed ? Supervisor.configurationExitCode : 0)
