/*
 * Relais test database launcher: a MongoDB wire-protocol server
 * (de.bwaldvogel:mongo-java-server, from Maven Central) on a loopback port.
 * Run by scripts/test-mongo-server.mjs with Java's single-file source launcher,
 * so nothing is compiled into the repository.
 *
 *   java -cp <classpath> MongoTestServer.java <port> [--until-stdin-closes]
 *
 * Prints "listening <host>:<port>" once bound, then serves until SIGTERM or,
 * with --until-stdin-closes, until its parent goes away (stdin reaches end of file).
 */
import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.net.InetSocketAddress;

public class MongoTestServer {
  private static final MongoVersion WIRE_VERSION_9 = new MongoVersion() {
    @Override
    public java.util.List<Integer> getVersionArray() {
      return java.util.List.of(4, 4, 0);
    }

    @Override
    public int getWireVersion() {
      return 9;
    }
  };

  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
    MongoBackend backend = new MemoryBackend();
    // Announce wire version 9 (MongoDB 4.4), the oldest the Node driver 7 accepts; the
    // library's own newest constant (MONGO_5_0) announces 8. What the server really
    // implements is unchanged: the store probes it (src/store/mongo/deployment.ts).
    backend.version(WIRE_VERSION_9);
    MongoServer server = new MongoServer(backend);
    server.bind("127.0.0.1", port);
    InetSocketAddress address = server.getLocalAddress();
    System.out.println("listening " + address.getHostString() + ":" + address.getPort());
    System.out.flush();
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
    if (args.length > 1 && args[1].equals("--until-stdin-closes")) {
      while (System.in.read() != -1) {
        // keep reading until the parent closes the pipe
      }
      server.shutdownNow();
      System.exit(0);
    }
    Thread.currentThread().join();
  }
}
