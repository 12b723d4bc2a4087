// Offline driver for the official HL7 FHIR validator library (org.hl7.fhir.validation, HAPI's
// org.hl7.fhir.core). Used by scripts/hl7-validator-check.ts; a developer tool, not part of CI.
//
// Why a driver instead of the validator's own CLI (org.hl7.fhir.validation.ValidatorCli): the CLI
// always loads "hl7.terminology" and "hl7.fhir.uv.extensions" WITHOUT a version, which makes it
// ask packages.fhir.org for the latest one and abort when offline. Here every package is loaded
// with an explicit version from the local FHIR package cache (~/.fhir/packages), and no
// terminology server is used (the equivalent of `-tx n/a`).
//
// Usage: java -cp '<validator lib>/*' Hl7Check.java <out-dir> <ig-dir-or-package>... -- <file.json>...
// For each input file it writes <out-dir>/<file name>.oo.json: the validator's OperationOutcome.
import java.nio.file.*;
import java.util.*;
import org.hl7.fhir.r5.elementmodel.Manager.FhirFormat;
import org.hl7.fhir.r5.formats.IParser.OutputStyle;
import org.hl7.fhir.r5.formats.JsonParser;
import org.hl7.fhir.r5.model.OperationOutcome;
import org.hl7.fhir.utilities.validation.ValidationMessage;
import org.hl7.fhir.validation.ValidationEngine;
import org.hl7.fhir.validation.cli.services.StandAloneValidatorFetcher;

public class Hl7Check {
  public static void main(String[] args) throws Exception {
    Path out = Paths.get(args[0]);
    Files.createDirectories(out);
    List<String> igs = new ArrayList<>();
    List<String> files = new ArrayList<>();
    boolean inFiles = false;
    for (int i = 1; i < args.length; i++) {
      if (args[i].equals("--")) { inFiles = true; continue; }
      (inFiles ? files : igs).add(args[i]);
    }
    ValidationEngine engine = new ValidationEngine.ValidationEngineBuilder()
        .withVersion("4.0.1")
        .withNoTerminologyServer()
        .withCanRunWithoutTerminologyServer(true)
        .withTHO(false)
        .fromSource("hl7.fhir.r4.core#4.0.1");
    for (String ig : igs) {
      engine.getIgLoader().loadIg(engine.getIgs(), engine.getBinaries(), ig, false);
    }
    // Fictional identifier systems and documents of the fixtures live on example.org hosts on
    // purpose; the CLI's -allow-example-urls true.
    engine.setAllowExampleUrls(true);
    // Resolve references and canonicals the way the CLI does (its default fetcher and policy
    // advisor), and assume Type/id references valid: there is no server to resolve them against
    // (the CLI's -assumeValidRestReferences).
    StandAloneValidatorFetcher fetcher = new StandAloneValidatorFetcher(engine.getPcm(), engine.getContext(), engine);
    engine.setFetcher(fetcher);
    engine.setPolicyAdvisor(fetcher);
    engine.setAssumeValidRestReferences(true);
    engine.prepare();
    JsonParser json = new JsonParser();
    json.setOutputStyle(OutputStyle.PRETTY);
    for (String f : files) {
      byte[] body = Files.readAllBytes(Paths.get(f));
      List<ValidationMessage> messages = new ArrayList<>();
      OperationOutcome oo;
      try {
        oo = engine.validate(body, FhirFormat.JSON, new ArrayList<>(), messages);
      } catch (Throwable e) {
        // One input that trips the validator (e.g. an optional class it tries to load to reach a
        // server) must not stop the run: it is recorded as a fatal outcome for that file only.
        oo = new OperationOutcome();
        oo.addIssue().setSeverity(OperationOutcome.IssueSeverity.FATAL)
            .setCode(OperationOutcome.IssueType.EXCEPTION)
            .setDiagnostics("validator exception: " + e);
      }
      Files.write(out.resolve(Paths.get(f).getFileName().toString() + ".oo.json"), json.composeBytes(oo));
      System.out.println("validated " + f);
    }
  }
}
