package integration

// A real Debezium for the differential test (debezium_diff_test.go): Kafka
// Connect standalone running Debezium's MySQL connector with Apicurio's
// AvroConverter (Confluent framing), one JVM started by the test and stopped
// at its end. The jars come from bench/debezium/resolve (Maven Central,
// cached under ~/.cache/tidemark/libs/debezium-<hash>), the same resolve
// `make bench` uses, so both compare against the same Debezium.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// debeziumLibs resolves Kafka Connect + Debezium (or takes
// TIDEMARK_DEBEZIUM_LIBS, a directory of the same layout) and returns the
// directory. Without Maven the test is unavailable (skipped, or failed
// under TIDEMARK_REQUIRE_STACK=1).
func debeziumLibs(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("TIDEMARK_DEBEZIUM_LIBS"); dir != "" {
		return dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := osexec.CommandContext(ctx, "../bench/debezium/resolve")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		unavailable(t, "bench/debezium/resolve (Debezium from Maven Central): %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// connectJava is the java that runs Connect: TIDEMARK_CONNECT_JAVA, or the
// one on PATH (Connect 4.x needs Java 17+).
func connectJava() string {
	if j := os.Getenv("TIDEMARK_CONNECT_JAVA"); j != "" {
		return j
	}
	return "java"
}

// debeziumConnect is one Connect standalone worker running one Debezium
// MySQL connector.
type debeziumConnect struct {
	name    string // connector name
	restURL string
	logPath string
	cmd     *osexec.Cmd
	done    chan struct{}
	waitErr error
}

// startDebezium writes the worker and connector properties into a temp dir
// and starts the worker. connector holds the connector's properties
// (name and connector.class included). The worker is stopped (SIGTERM,
// then SIGKILL after 30 s) when the test ends; its log is attached to the
// test output when the test failed.
func startDebezium(t *testing.T, libs string, s *Stack, connector map[string]string) *debeziumConnect {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	apicurio := s.RegistryURL
	if i := strings.Index(apicurio, "/apis/"); i >= 0 {
		apicurio = apicurio[:i] + "/apis/registry/v2" // the 2.6 converter speaks Apicurio's own v2 API
	}
	worker := map[string]string{
		"bootstrap.servers":            strings.Join(s.Brokers, ","),
		"listeners":                    fmt.Sprintf("http://127.0.0.1:%d", port),
		"plugin.path":                  filepath.Join(libs, "plugins"),
		"plugin.discovery":             "hybrid_warn", // the 2.6 converter jar has no ServiceLoader manifest
		"offset.storage.file.filename": filepath.Join(dir, "offsets"),
		"offset.flush.interval.ms":     "1000",
	}
	for _, side := range []string{"key", "value"} {
		c := side + ".converter"
		worker[c] = "io.apicurio.registry.utils.converter.AvroConverter"
		worker[c+".apicurio.registry.url"] = apicurio
		worker[c+".apicurio.registry.auto-register"] = "true"
		worker[c+".apicurio.registry.find-latest"] = "true"
		// Confluent framing: magic byte 0 + 4-byte id in the payload, the id
		// being the content id, which the ccompat API calls a schema id.
		worker[c+".apicurio.registry.headers.enabled"] = "false"
		worker[c+".apicurio.registry.id-handler"] = "io.apicurio.registry.serde.Legacy4ByteIdHandler"
		worker[c+".apicurio.registry.use-id"] = "contentId"
	}
	workerPath := filepath.Join(dir, "worker.properties")
	connPath := filepath.Join(dir, "connector.properties")
	log4jPath := filepath.Join(dir, "log4j2.properties")
	writeProperties(t, workerPath, worker)
	writeProperties(t, connPath, connector)
	if err := os.WriteFile(log4jPath, []byte(connectLog4j2), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "connect.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command(connectJava(), "-Xms128m", "-Xmx768m",
		"-Dlog4j2.configurationFile="+log4jPath, "-Dlog4j.configuration=file:"+log4jPath,
		"-cp", filepath.Join(libs, "connect")+"/*",
		"org.apache.kafka.connect.cli.ConnectStandalone", workerPath, connPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		unavailable(t, "start Kafka Connect with %s: %v", connectJava(), err)
	}
	d := &debeziumConnect{name: connector["name"], restURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { d.waitErr = cmd.Wait(); logFile.Close(); close(d.done) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			d.stop()
			if t.Failed() {
				b, _ := os.ReadFile(logPath)
				t.Logf("Kafka Connect log (%s), last 12 kB:\n%s", logPath, tail(string(b), 12<<10))
			}
		})
	})
	return d
}

// stop ends the worker: SIGTERM (Connect stops the task and flushes), then
// SIGKILL for the process group if it has not exited within 30 s.
func (d *debeziumConnect) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// waitRunning waits until the connector's task reports RUNNING, failing the
// test when the task fails, the worker exits, or 3 minutes pass (a cold JVM
// on the shared 2-core machine takes 20-60 s).
func (d *debeziumConnect) waitRunning(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		state, trace := d.taskState()
		switch state {
		case "RUNNING":
			return
		case "FAILED":
			t.Fatalf("Debezium task failed: %s", firstLines(trace, 12))
		}
		select {
		case <-d.done:
			t.Fatalf("Kafka Connect exited before the connector ran: %v (log %s)", d.waitErr, d.logPath)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Debezium task not RUNNING after 3 minutes (state %q)", state)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// check fails the test if the connector's task has failed or the worker died.
func (d *debeziumConnect) check(t *testing.T) error {
	select {
	case <-d.done:
		return fmt.Errorf("kafka connect exited: %v", d.waitErr)
	default:
	}
	if state, trace := d.taskState(); state == "FAILED" {
		return fmt.Errorf("debezium task failed: %s", firstLines(trace, 12))
	}
	return nil
}

// taskState asks Connect's REST API for the first task's state; "" while the
// API is not up.
func (d *debeziumConnect) taskState() (state, trace string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.restURL+"/connectors/"+d.name+"/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", ""
	}
	defer resp.Body.Close()
	var st struct {
		Connector struct{ State, Trace string }   `json:"connector"`
		Tasks     []struct{ State, Trace string } `json:"tasks"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return "", ""
	}
	if st.Connector.State == "FAILED" {
		return "FAILED", st.Connector.Trace
	}
	if len(st.Tasks) == 0 {
		return "", ""
	}
	return st.Tasks[0].State, st.Tasks[0].Trace
}

func writeProperties(t *testing.T, path string, props map[string]string) {
	t.Helper()
	var b strings.Builder
	for k, v := range props {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// connectLog4j2 keeps Connect's log readable (Kafka 4.x logs through Log4j 2).
const connectLog4j2 = `status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser
logger.appinfo.level = WARN
logger.rest.name = org.apache.kafka.connect.runtime.rest
logger.rest.level = WARN
`
