// Runs Apache Kafka's command-line tools one after another in one JVM, for tests/tools.
//
// Each Kafka tool is a `main(String[])` that prints to System.out/System.err and ends with
// org.apache.kafka.common.utils.Exit.exit(code). Starting a JVM per invocation costs one to
// two seconds of CPU on a 2-core machine; this shell starts once per test session and runs
// the same main classes, with the same arguments, as `bin/kafka-*.sh` would:
//
//   stdin:  one JSON object per line: {"main": "<class>", "args": [...], "stdin": "<text>"}
//   stdout: {"ready": true} once, then one JSON object per command:
//           {"exit": <code>, "stdout": "<text>", "stderr": "<text>"}
//
// Exit.exit/halt end the command: the first call's code is the exit code, and the output of the
// tool's own code after it is discarded (in a real JVM nothing of it runs; here the exception
// that unwinds the tool may pass through its catch blocks, which would print). Shutdown hooks the
// tool registered through Exit.addShutdownHook run when the command ends, as at JVM exit, and
// their output is kept (ConsoleProducer closes, and so flushes, its producer in one). System.out,
// System.err and System.in are replaced once, at start-up, by streams whose target changes per
// command, so code that captured them early (Log4j's console appender, Scala's Console) is
// captured too. Tools that call System.exit themselves must run as their own process.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.Exit;

public final class ToolShell {
    /** The code of the current command's first Exit.exit/halt, or null while it runs on. */
    private static volatile Integer exited;
    /** Shutdown hooks the current command registered. */
    private static final List<Runnable> HOOKS = new ArrayList<>();
    private static final long HOOK_TIMEOUT_MS = 30_000;

    /** Thrown by Exit.exit/halt; an Error so that tools' catch (Exception) blocks let it pass. */
    private static final class ToolExit extends Error {
        final int code;

        ToolExit(int code) {
            super("exit " + code, null, false, false);
            this.code = code;
        }
    }

    /** An output stream whose target is swapped per command. */
    private static final class Switchable extends OutputStream {
        volatile OutputStream target = OutputStream.nullOutputStream();

        @Override
        public void write(int b) throws IOException {
            target.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            target.write(b, off, len);
        }
    }

    /** An input stream whose source is swapped per command. */
    private static final class SwitchableIn extends InputStream {
        volatile InputStream source = InputStream.nullInputStream();

        @Override
        public int read() throws IOException {
            return source.read();
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            return source.read(b, off, len);
        }

        @Override
        public int available() throws IOException {
            return source.available();
        }
    }

    public static void main(String[] ignored) throws IOException {
        PrintStream replies = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Switchable out = new Switchable();
        Switchable err = new Switchable();
        SwitchableIn in = new SwitchableIn();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setIn(in);
        Exit.Procedure exit = (code, message) -> {
            if (exited == null) {
                exited = code;
                out.target = OutputStream.nullOutputStream();
                err.target = OutputStream.nullOutputStream();
            }
            throw new ToolExit(code);
        };
        Exit.setExitProcedure(exit);
        Exit.setHaltProcedure(exit);
        Exit.setShutdownHookAdder((name, hook) -> {
            synchronized (HOOKS) {
                HOOKS.add(hook);
            }
        });

        ObjectMapper json = new ObjectMapper();
        replies.println("{\"ready\":true}");
        String line;
        while ((line = commands.readLine()) != null) {
            JsonNode command = json.readTree(line);
            String[] args = new String[command.get("args").size()];
            for (int i = 0; i < args.length; i++) {
                args[i] = command.get("args").get(i).asText();
            }
            String stdin = command.hasNonNull("stdin") ? command.get("stdin").asText() : "";
            ByteArrayOutputStream stdout = new ByteArrayOutputStream();
            ByteArrayOutputStream stderr = new ByteArrayOutputStream();
            exited = null;
            out.target = stdout;
            err.target = stderr;
            in.source = new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8));
            int code;
            try {
                Class.forName(command.get("main").asText())
                    .getMethod("main", String[].class)
                    .invoke(null, (Object) args);
                code = exited == null ? 0 : exited;
            } catch (InvocationTargetException e) {
                code = exited != null ? exited : exitCode(e.getCause());
            } catch (ReflectiveOperationException e) {
                e.printStackTrace();
                code = 1;
            } finally {
                out.target = stdout;
                err.target = stderr;
                runShutdownHooks();
                System.out.flush();
                System.err.flush();
                out.target = OutputStream.nullOutputStream();
                err.target = OutputStream.nullOutputStream();
                in.source = InputStream.nullInputStream();
            }
            ObjectNode reply = json.createObjectNode();
            reply.put("exit", code);
            reply.put("stdout", stdout.toString(StandardCharsets.UTF_8));
            reply.put("stderr", stderr.toString(StandardCharsets.UTF_8));
            replies.println(json.writeValueAsString(reply));
        }
    }

    /** Like the JVM at exit: every hook in its own thread, all started, then all awaited. */
    private static void runShutdownHooks() {
        List<Thread> threads = new ArrayList<>();
        synchronized (HOOKS) {
            for (Runnable hook : HOOKS) {
                Thread thread = new Thread(() -> {
                    try {
                        hook.run();
                    } catch (ToolExit ignored) {
                        // Exit.exit from a hook: the JVM is exiting anyway.
                    } catch (RuntimeException e) {
                        e.printStackTrace();
                    }
                }, "tool-shutdown-hook");
                thread.start();
                threads.add(thread);
            }
            HOOKS.clear();
        }
        for (Thread thread : threads) {
            try {
                thread.join(HOOK_TIMEOUT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static int exitCode(Throwable thrown) {
        if (thrown instanceof ToolExit exit) {
            return exit.code;
        }
        thrown.printStackTrace();
        return 1;
    }
}
