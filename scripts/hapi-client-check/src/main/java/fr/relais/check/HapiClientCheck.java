package fr.relais.check;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.SortSpec;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.PreconditionFailedException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.rest.server.exceptions.UnprocessableEntityException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.CodeableConcept;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.ContactPoint;
import org.hl7.fhir.r4.model.DateTimeType;
import org.hl7.fhir.r4.model.Enumerations.AdministrativeGender;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Quantity;
import org.hl7.fhir.r4.model.Reference;
import org.hl7.fhir.r4.model.Resource;
import org.hl7.fhir.r4.model.UriType;
import org.hl7.fhir.r4.model.ValueSet;

/**
 * Developer tool (not CI): drives a running Relais with HAPI FHIR's generic client, the client
 * most French hospital software uses, once per encoding (XML, then JSON), and prints one
 * "PASS|FAIL <encoding> <step>" line per step. Started by scripts/hapi-client-check.mjs.
 *
 * Usage: java -cp target/classes:target/lib/* fr.relais.check.HapiClientCheck BASE_URL [VALIDATION_ENFORCEMENT]
 */
public final class HapiClientCheck {
  /** INS-NIR-TEST identifier system (FR Core's test slice): never a real person's INS. */
  static final String INS = "urn:oid:1.2.250.1.213.1.4.10";

  interface Step {
    String run() throws Exception;
  }

  private final IGenericClient client;
  private final String enc;
  private final String run = UUID.randomUUID().toString().substring(0, 8);
  /** VALIDATION_ENFORCEMENT=off: the server checks structure only, so R4 invariants are not refused on write. */
  static boolean structureOnly;
  private int passed;
  private int failed;

  HapiClientCheck(FhirContext ctx, String base, EncodingEnum encoding) {
    client = ctx.newRestfulGenericClient(base);
    client.setEncoding(encoding);
    enc = encoding.name();
  }

  private void step(String name, Step body) {
    try {
      String detail = body.run();
      if (detail != null && detail.startsWith("skipped")) {
        System.out.println("SKIP " + enc + " " + name + " — " + detail);
        return;
      }
      passed++;
      System.out.println("PASS " + enc + " " + name + (detail == null || detail.isEmpty() ? "" : " — " + detail));
    } catch (Throwable e) {
      failed++;
      System.out.println("FAIL " + enc + " " + name + " — " + describe(e));
    }
  }

  static String describe(Throwable e) {
    StringBuilder out = new StringBuilder(e.getClass().getSimpleName()).append(": ").append(e.getMessage());
    if (e instanceof BaseServerResponseException server) {
      IBaseOperationOutcome oo = server.getOperationOutcome();
      if (oo instanceof OperationOutcome outcome) {
        for (OperationOutcome.OperationOutcomeIssueComponent issue : outcome.getIssue()) {
          out.append(" | ").append(issue.getCode()).append(" ").append(issue.getDiagnostics());
          issue.getExpression().forEach(x -> out.append(" @").append(x.getValue()));
        }
      }
    }
    return out.toString().replace('\n', ' ');
  }

  static void check(boolean condition, String message) {
    if (!condition) throw new AssertionError(message);
  }

  static <T extends Throwable> T expectThrows(Class<T> type, Step body) throws Exception {
    try {
      String result = body.run();
      throw new AssertionError("expected " + type.getSimpleName() + " but succeeded" + (result == null ? "" : ": " + result));
    } catch (Throwable e) {
      if (type.isInstance(e)) return type.cast(e);
      if (e instanceof AssertionError a) throw a;
      throw new AssertionError("expected " + type.getSimpleName() + ", got " + describe(e));
    }
  }

  private String insValue(int n) {
    // 15 characters like an INS-NIR (13 digits + 2-digit key); unique per run and encoding.
    long base = Math.abs((run + enc).hashCode()) % 1_000_000L;
    return String.format("2850575%06d%02d", base, n);
  }

  private Patient patient(String family, String given, String birthDate, int n) {
    Patient p = new Patient();
    p.addIdentifier().setUse(org.hl7.fhir.r4.model.Identifier.IdentifierUse.OFFICIAL).setSystem(INS).setValue(insValue(n))
        .setType(new CodeableConcept(new Coding("https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "INS-NIR-TEST", null)));
    p.addName().setUse(org.hl7.fhir.r4.model.HumanName.NameUse.OFFICIAL).setFamily(family).addGiven(given);
    p.setGender(AdministrativeGender.FEMALE);
    p.setBirthDateElement(new org.hl7.fhir.r4.model.DateType(birthDate));
    return p;
  }

  private Observation observation(String patientRef) {
    Observation o = new Observation();
    o.setStatus(Observation.ObservationStatus.FINAL);
    o.addCategory(new CodeableConcept(new Coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")));
    o.setCode(new CodeableConcept(new Coding("http://loinc.org", "29463-7", "Body weight")));
    o.setSubject(new Reference(patientRef));
    o.setEffective(new DateTimeType("2026-11-20T10:00:00+01:00"));
    o.setValue(new Quantity().setValue(61.5).setUnit("kg").setSystem("http://unitsofmeasure.org").setCode("kg"));
    return o;
  }

  void runAll() {
    String family = "Lefèvre-" + run;
    String[] id = new String[1];

    step("capabilities", () -> {
      CapabilityStatement cs = client.capabilities().ofType(CapabilityStatement.class).execute();
      check(cs.getFhirVersion() != null && cs.getFhirVersion().toCode().equals("4.0.1"), "fhirVersion " + cs.getFhirVersion());
      check(!cs.getRest().isEmpty() && !cs.getRest().get(0).getResource().isEmpty(), "no rest.resource");
      return cs.getRest().get(0).getResource().size() + " resource types";
    });

    step("create Patient (INS, accented names)", () -> {
      MethodOutcome o = client.create().resource(patient(family, "Hélène", "1985-05-12", 1)).execute();
      check(Boolean.TRUE.equals(o.getCreated()), "created flag " + o.getCreated());
      check(o.getId() != null && o.getId().hasIdPart() && "1".equals(o.getId().getVersionIdPart()), "id " + o.getId());
      id[0] = o.getId().getIdPart();
      return o.getId().getValue();
    });

    step("read", () -> {
      Patient p = client.read().resource(Patient.class).withId(id[0]).execute();
      check(family.equals(p.getNameFirstRep().getFamily()), "family " + p.getNameFirstRep().getFamily());
      check("Hélène".equals(p.getNameFirstRep().getGivenAsSingleString()), "given " + p.getNameFirstRep().getGivenAsSingleString());
      check("1".equals(p.getMeta().getVersionId()) && "1".equals(p.getIdElement().getVersionIdPart()), "version " + p.getIdElement());
      return null;
    });

    step("update", () -> {
      Patient p = client.read().resource(Patient.class).withId(id[0]).execute();
      p.addTelecom().setSystem(ContactPoint.ContactPointSystem.PHONE).setValue("+33 6 12 34 56 78");
      MethodOutcome o = client.update().resource(p).execute();
      check("2".equals(o.getId().getVersionIdPart()), "version " + o.getId());
      return o.getId().getValue();
    });

    step("vread", () -> {
      Patient v1 = client.read().resource(Patient.class).withIdAndVersion(id[0], "1").execute();
      check(v1.getTelecom().isEmpty() && "1".equals(v1.getMeta().getVersionId()), "v1 " + v1.getMeta().getVersionId());
      return null;
    });

    step("conditional create (ifNoneExist) matches", () -> {
      MethodOutcome o = client.create().resource(patient(family, "Hélène", "1985-05-12", 1))
          .conditional().where(Patient.IDENTIFIER.exactly().systemAndCode(INS, insValue(1))).execute();
      check(o.getId() != null && id[0].equals(o.getId().getIdPart()), "id " + o.getId());
      check(!Boolean.TRUE.equals(o.getCreated()), "created " + o.getCreated());
      return "200 on " + o.getId().getValue();
    });

    step("conditional update", () -> {
      Patient p = patient(family, "Hélène", "1985-05-12", 1);
      p.addName().setUse(org.hl7.fhir.r4.model.HumanName.NameUse.USUAL).setFamily("Dubois-" + run).addGiven("Zoé");
      MethodOutcome o = client.update().resource(p).conditional()
          .where(Patient.IDENTIFIER.exactly().systemAndCode(INS, insValue(1))).execute();
      check(id[0].equals(o.getId().getIdPart()) && "3".equals(o.getId().getVersionIdPart()), "id " + o.getId());
      return o.getId().getValue();
    });

    step("patch (JSON Patch)", () -> {
      MethodOutcome o = client.patch().withBody("[{\"op\":\"replace\",\"path\":\"/gender\",\"value\":\"other\"}]")
          .withId(new IdType("Patient", id[0])).execute();
      Patient p = client.read().resource(Patient.class).withId(id[0]).execute();
      check(p.getGender() == AdministrativeGender.OTHER, "gender " + p.getGender());
      return o.getId() == null ? "no id" : o.getId().getValue();
    });

    step("update with stale version → 412 PreconditionFailedException", () -> {
      Patient p = client.read().resource(Patient.class).withId(id[0]).execute();
      // HAPI sends If-Match: W/"<vid>" by itself when the resource id carries a version.
      p.setId(new IdType("Patient", id[0], "1"));
      p.setActive(true);
      PreconditionFailedException e = expectThrows(PreconditionFailedException.class,
          () -> String.valueOf(client.update().resource(p).execute().getId()));
      check(e.getOperationOutcome() != null, "no OperationOutcome");
      return null;
    });

    step("read unknown → 404 ResourceNotFoundException with OperationOutcome", () -> {
      ResourceNotFoundException e = expectThrows(ResourceNotFoundException.class,
          () -> client.read().resource(Patient.class).withId("does-not-exist-" + run).execute().getId());
      check(e.getOperationOutcome() instanceof OperationOutcome oo && !oo.getIssue().isEmpty(), "OperationOutcome " + e.getOperationOutcome());
      return ((OperationOutcome) e.getOperationOutcome()).getIssueFirstRep().getDiagnostics();
    });

    step("delete then read → 410 ResourceGoneException", () -> {
      MethodOutcome created = client.create().resource(patient("Supprimé-" + run, "Anaïs", "1990-01-01", 2)).execute();
      client.delete().resourceById(created.getId().toUnqualifiedVersionless()).execute();
      expectThrows(ResourceGoneException.class,
          () -> client.read().resource(Patient.class).withId(created.getId().getIdPart()).execute().getId());
      return null;
    });

    // HAPI's parser refuses malformed content (e.g. gender "banana") before sending it, even
    // for client.create().resource(String), so the invalid resources here are well-formed ones
    // that break R4 rules: a missing required element, and an invariant.
    step("create Observation without status/code → 400 InvalidRequestException", () -> {
      Observation bad = observation("Patient/" + id[0]);
      bad.setStatus(null);
      bad.setCode(null);
      InvalidRequestException e = expectThrows(InvalidRequestException.class, () -> String.valueOf(client.create().resource(bad).execute().getId()));
      check(e.getOperationOutcome() != null, "no OperationOutcome");
      return e.getStatusCode() + " " + ((OperationOutcome) e.getOperationOutcome()).getIssueFirstRep().getDiagnostics();
    });

    step("create Patient breaking pat-1 → 422 UnprocessableEntityException", () -> {
      if (structureOnly) return "skipped: VALIDATION_ENFORCEMENT=off checks structure only";
      Patient bad = patient("Invalide-" + run, "Loïc", "2001-02-03", 3);
      bad.addContact().setGender(AdministrativeGender.MALE); // pat-1: a contact needs a name, telecom, address or organization
      UnprocessableEntityException e = expectThrows(UnprocessableEntityException.class, () -> String.valueOf(client.create().resource(bad).execute().getId()));
      check(e.getOperationOutcome() instanceof OperationOutcome, "no OperationOutcome");
      OperationOutcome.OperationOutcomeIssueComponent error = ((OperationOutcome) e.getOperationOutcome()).getIssue().stream()
          .filter(i -> i.getSeverity() == OperationOutcome.IssueSeverity.ERROR).findFirst().orElseThrow(() -> new AssertionError("no error issue"));
      check(error.getDiagnostics().contains("pat-1"), "error " + error.getDiagnostics());
      return error.getDiagnostics();
    });

    // Search data: 7 patients sharing a family name (accent-folded search), born 1950..1980.
    String searchFamily = "Bérénice" + run;
    List<String> searchIds = new ArrayList<>();
    step("create 7 patients for search", () -> {
      for (int i = 0; i < 7; i++) {
        searchIds.add(client.create().resource(patient(searchFamily, "Élise", (1950 + i * 5) + "-03-0" + (i + 1), 10 + i)).execute().getId().getIdPart());
      }
      return null;
    });

    step("search FAMILY.matches (accent-insensitive) + DATE range + count + sort", () -> {
      Bundle b = client.search().forResource(Patient.class)
          .where(Patient.FAMILY.matches().value("berenice" + run))
          .and(Patient.BIRTHDATE.afterOrEquals().day("1955-01-01"))
          .and(Patient.BIRTHDATE.before().day("1975-01-01"))
          .sort(new SortSpec("birthdate", ca.uhn.fhir.rest.api.SortOrderEnum.DESC))
          .count(10).returnBundle(Bundle.class).execute();
      List<String> dates = new ArrayList<>();
      b.getEntry().forEach(e -> dates.add(((Patient) e.getResource()).getBirthDateElement().getValueAsString()));
      check(dates.equals(List.of("1970-03-05", "1965-03-04", "1960-03-03", "1955-03-02")), "got " + dates);
      return null;
    });

    step("search IDENTIFIER.exactly().systemAndCode", () -> {
      Bundle b = client.search().forResource(Patient.class)
          .where(Patient.IDENTIFIER.exactly().systemAndCode(INS, insValue(12))).returnBundle(Bundle.class).execute();
      check(b.getEntry().size() == 1 && searchIds.get(2).equals(b.getEntryFirstRep().getResource().getIdElement().getIdPart()), "entries " + b.getEntry().size());
      return null;
    });

    step("paging loadPage().next() over > 2 pages", () -> {
      Bundle page = client.search().forResource(Patient.class).where(Patient.FAMILY.matches().value(searchFamily))
          .count(2).sort().ascending(Patient.BIRTHDATE).returnBundle(Bundle.class).execute();
      List<String> seen = new ArrayList<>();
      int pages = 0;
      while (true) {
        pages++;
        page.getEntry().forEach(e -> seen.add(e.getResource().getIdElement().getIdPart()));
        if (page.getLink(Bundle.LINK_NEXT) == null) break;
        page = client.loadPage().next(page).execute();
        if (pages > 10) throw new AssertionError("too many pages");
      }
      check(pages == 4 && seen.equals(searchIds), pages + " pages, " + seen.size() + " entries, order " + seen.equals(searchIds));
      return pages + " pages";
    });

    step("search POST _search (usingStyle POST) + :exact + :contains", () -> {
      Bundle b = client.search().forResource(Patient.class)
          .where(Patient.FAMILY.matchesExactly().value(searchFamily))
          .and(Patient.GIVEN.contains().value("lis"))
          .usingStyle(ca.uhn.fhir.rest.api.SearchStyleEnum.POST).returnBundle(Bundle.class).execute();
      check(b.getEntry().size() == 7, "entries " + b.getEntry().size());
      return null;
    });

    step("search byUrl + _summary=count + total", () -> {
      Bundle b = client.search().byUrl("Patient?family=" + searchFamily).summaryMode(ca.uhn.fhir.rest.api.SummaryEnum.COUNT)
          .totalMode(ca.uhn.fhir.rest.api.SearchTotalModeEnum.ACCURATE).returnBundle(Bundle.class).execute();
      check(b.getTotal() == 7 && b.getEntry().isEmpty(), "total " + b.getTotal() + " entries " + b.getEntry().size());
      return null;
    });

    step("search _elements (elementsSubset)", () -> {
      Bundle b = client.search().forResource(Patient.class).where(Patient.FAMILY.matches().value(searchFamily))
          .elementsSubset("birthDate").returnBundle(Bundle.class).execute();
      Patient p = (Patient) b.getEntryFirstRep().getResource();
      check(p.hasBirthDate() && !p.hasName(), "name present " + p.hasName());
      return null;
    });

    step("conditional read ifVersionMatches → not modified (304)", () -> {
      Patient p = client.read().resource(Patient.class).withId(searchIds.get(0)).ifVersionMatches("1").returnNull().execute();
      check(p == null, "got a body");
      return null;
    });

    step("create with Prefer return=minimal", () -> {
      MethodOutcome o = client.create().resource(patient("Minimal-" + run, "Maëlle", "1999-09-09", 4))
          .prefer(ca.uhn.fhir.rest.api.PreferReturnEnum.MINIMAL).execute();
      check(o.getId() != null && o.getId().hasIdPart() && o.getResource() == null, "id " + o.getId());
      return null;
    });

    // Unlike update(), HAPI's patch() sends no If-Match for a versioned id (and drops the
    // version from the URL): the header has to be added by hand.
    step("patch with stale If-Match (withAdditionalHeader) → 412", () -> {
      expectThrows(PreconditionFailedException.class,
          () -> String.valueOf(client.patch().withBody("[{\"op\":\"replace\",\"path\":\"/gender\",\"value\":\"male\"}]")
              .withId(new IdType("Patient", id[0])).withAdditionalHeader("If-Match", "W/\"1\"").execute().getId()));
      return null;
    });

    step("conditional delete", () -> {
      String family2 = "Conditionnel-" + run;
      client.create().resource(patient(family2, "Inès", "1977-07-07", 5)).execute();
      client.delete().resourceConditionalByType(Patient.class).where(Patient.FAMILY.matchesExactly().value(family2)).execute();
      Bundle b = client.search().forResource(Patient.class).where(Patient.FAMILY.matchesExactly().value(family2)).returnBundle(Bundle.class).execute();
      check(b.getEntry().isEmpty(), "still " + b.getEntry().size());
      return null;
    });

    step("search _lastUpdated (DateRangeParam) + _tag", () -> {
      java.util.Date before = new java.util.Date(System.currentTimeMillis() - 60_000);
      Patient tagged = patient("Étiqueté-" + run, "Chloé", "1988-08-08", 6);
      tagged.getMeta().addTag("https://relais-sante.fr/fhir/test-tag", "hapi-" + run, null);
      String taggedId = client.create().resource(tagged).execute().getId().getIdPart();
      Bundle b = client.search().forResource(Patient.class)
          .withTag("https://relais-sante.fr/fhir/test-tag", "hapi-" + run)
          .lastUpdated(new ca.uhn.fhir.rest.param.DateRangeParam(before, null))
          .returnBundle(Bundle.class).execute();
      check(b.getEntry().size() == 1 && taggedId.equals(b.getEntryFirstRep().getResource().getIdElement().getIdPart()), "entries " + b.getEntry().size());
      return null;
    });

    step("search NAME OR values + BIRTHDATE exactly", () -> {
      Bundle b = client.search().forResource(Patient.class)
          .where(Patient.NAME.matches().values(searchFamily, "nobody-" + run))
          .and(Patient.BIRTHDATE.exactly().day("1960-03-03"))
          .returnBundle(Bundle.class).execute();
      check(b.getEntry().size() == 1, "entries " + b.getEntry().size());
      return null;
    });

    step("paging loadPage().previous()", () -> {
      Bundle first = client.search().forResource(Patient.class).where(Patient.FAMILY.matches().value(searchFamily))
          .count(3).sort().ascending(Patient.BIRTHDATE).returnBundle(Bundle.class).execute();
      Bundle second = client.loadPage().next(first).execute();
      Bundle back = client.loadPage().previous(second).execute();
      check(back.getEntryFirstRep().getResource().getIdElement().getIdPart().equals(searchIds.get(0)), "previous page starts elsewhere");
      return null;
    });

    step("_format override (encodedJson/encodedXml) + prettyPrint", () -> {
      var read = client.read().resource(Patient.class).withId(searchIds.get(0)).prettyPrint();
      Patient p = (enc.equals("XML") ? read.encodedJson() : read.encodedXml()).execute();
      check(p.hasName(), "no name");
      return null;
    });

    step("history since", () -> {
      Bundle b = client.history().onInstance(new IdType("Patient", searchIds.get(0))).returnBundle(Bundle.class)
          .since(new java.util.Date(System.currentTimeMillis() - 3_600_000)).execute();
      check(b.getEntry().size() == 1, "entries " + b.getEntry().size());
      return null;
    });

    step("instance $validate (operation onInstance)", () -> {
      Parameters out = client.operation().onInstance(new IdType("Patient", searchIds.get(0))).named("$validate")
          .withNoParameters(Parameters.class).execute();
      return out.getParameter().isEmpty() ? "OperationOutcome returned" : out.getParameterFirstRep().getName();
    });

    step("$match (Patient)", () -> {
      Parameters in = new Parameters();
      in.addParameter().setName("resource").setResource(patient(searchFamily, "Élise", "1960-03-03", 12));
      Bundle b = client.operation().onType(Patient.class).named("$match").withParameters(in).returnResourceType(Bundle.class).execute();
      check(!b.getEntry().isEmpty(), "no candidates");
      return b.getEntry().size() + " candidates";
    });

    String[] obsId = new String[1];
    step("create Observation", () -> {
      MethodOutcome o = client.create().resource(observation("Patient/" + id[0])).execute();
      obsId[0] = o.getId().getIdPart();
      return o.getId().getValue();
    });

    step("search _include Observation:subject", () -> {
      Bundle b = client.search().forResource(Observation.class).where(Observation.SUBJECT.hasId("Patient/" + id[0]))
          .include(Observation.INCLUDE_SUBJECT).returnBundle(Bundle.class).execute();
      boolean match = false;
      boolean included = false;
      for (Bundle.BundleEntryComponent e : b.getEntry()) {
        if (e.getResource() instanceof Observation && e.getSearch().getMode() == Bundle.SearchEntryMode.MATCH) match = true;
        if (e.getResource() instanceof Patient && e.getSearch().getMode() == Bundle.SearchEntryMode.INCLUDE) included = true;
      }
      check(match && included, "match " + match + " include " + included);
      return null;
    });

    step("search chained subject:Patient.identifier + quantity + token", () -> {
      Bundle b = client.search().forResource(Observation.class)
          .where(Observation.SUBJECT.hasChainedProperty(Patient.IDENTIFIER.exactly().systemAndCode(INS, insValue(1))))
          .and(Observation.CODE.exactly().systemAndCode("http://loinc.org", "29463-7"))
          .and(Observation.VALUE_QUANTITY.withPrefix(ca.uhn.fhir.rest.param.ParamPrefixEnum.GREATERTHAN).number(60).andUnits("http://unitsofmeasure.org", "kg"))
          .returnBundle(Bundle.class).execute();
      check(b.getEntry().size() == 1 && obsId[0].equals(b.getEntryFirstRep().getResource().getIdElement().getIdPart()), "entries " + b.getEntry().size());
      return null;
    });

    step("search Observation DATE second precision with offset + PATIENT + _summary=true", () -> {
      Bundle b = client.search().forResource(Observation.class)
          .where(Observation.PATIENT.hasId(id[0]))
          .and(Observation.DATE.afterOrEquals().second("2026-11-20T09:59:59+01:00"))
          .and(Observation.DATE.before().second("2026-11-20T10:00:01+01:00"))
          .summaryMode(ca.uhn.fhir.rest.api.SummaryEnum.TRUE)
          .returnBundle(Bundle.class).execute();
      check(b.getEntry().size() == 1, "entries " + b.getEntry().size());
      return null;
    });

    step("read withUrl (absolute)", () -> {
      Observation o = client.read().resource(Observation.class).withUrl(client.getServerBase() + "/Observation/" + obsId[0]).execute();
      check(obsId[0].equals(o.getIdElement().getIdPart()), "id " + o.getIdElement());
      return null;
    });

    step("search _revinclude Observation:subject", () -> {
      Bundle b = client.search().forResource(Patient.class).where(Resource.RES_ID.exactly().code(id[0]))
          .revInclude(Observation.INCLUDE_SUBJECT).returnBundle(Bundle.class).execute();
      boolean rev = b.getEntry().stream().anyMatch(e -> e.getResource() instanceof Observation && obsId[0].equals(e.getResource().getIdElement().getIdPart()));
      check(rev && b.getEntry().size() == 2, "entries " + b.getEntry().size());
      return null;
    });

    step("history instance", () -> {
      Bundle b = client.history().onInstance(new IdType("Patient", id[0])).returnBundle(Bundle.class).execute();
      check(b.getType() == Bundle.BundleType.HISTORY && b.getEntry().size() >= 4, "entries " + b.getEntry().size());
      return b.getEntry().size() + " versions";
    });

    step("history type", () -> {
      Bundle b = client.history().onType(Patient.class).returnBundle(Bundle.class).count(5).execute();
      check(b.getType() == Bundle.BundleType.HISTORY && b.getEntry().size() == 5, "entries " + b.getEntry().size());
      return null;
    });

    step("transaction (urn:uuid + conditional reference)", () -> {
      Bundle tx = new Bundle();
      tx.setType(Bundle.BundleType.TRANSACTION);
      String patientUuid = "urn:uuid:" + UUID.randomUUID();
      Patient p = patient("Transaction-" + run, "Noémie", "1942-07-14", 30);
      tx.addEntry().setFullUrl(patientUuid).setResource(p).getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl("Patient");
      tx.addEntry().setFullUrl("urn:uuid:" + UUID.randomUUID()).setResource(observation(patientUuid))
          .getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl("Observation");
      tx.addEntry().setFullUrl("urn:uuid:" + UUID.randomUUID())
          .setResource(observation("Patient?identifier=" + INS + "|" + insValue(1)))
          .getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl("Observation");
      Bundle resp = client.transaction().withBundle(tx).execute();
      check(resp.getType() == Bundle.BundleType.TRANSACTIONRESPONSE && resp.getEntry().size() == 3, "response " + resp.getType());
      String newPatient = new IdType(resp.getEntry().get(0).getResponse().getLocation()).getIdPart();
      Observation o1 = client.read().resource(Observation.class).withId(new IdType(resp.getEntry().get(1).getResponse().getLocation()).getIdPart()).execute();
      Observation o2 = client.read().resource(Observation.class).withId(new IdType(resp.getEntry().get(2).getResponse().getLocation()).getIdPart()).execute();
      check(("Patient/" + newPatient).equals(o1.getSubject().getReference()), "urn:uuid subject " + o1.getSubject().getReference());
      check(("Patient/" + id[0]).equals(o2.getSubject().getReference()), "conditional subject " + o2.getSubject().getReference());
      return null;
    });

    step("transaction: conditional create entry (ifNoneExist) + conditional update entry (PUT Patient?identifier=)", () -> {
      Bundle tx = new Bundle();
      tx.setType(Bundle.BundleType.TRANSACTION);
      String ins = INS + "|" + insValue(1);
      tx.addEntry().setFullUrl("urn:uuid:" + UUID.randomUUID()).setResource(patient(family, "Hélène", "1985-05-12", 1))
          .getRequest().setMethod(Bundle.HTTPVerb.POST).setUrl("Patient").setIfNoneExist("identifier=" + ins);
      Patient upd = patient("MisÀJour-" + run, "Noël", "1950-12-25", 50);
      tx.addEntry().setFullUrl("urn:uuid:" + UUID.randomUUID()).setResource(upd)
          .getRequest().setMethod(Bundle.HTTPVerb.PUT).setUrl("Patient?identifier=" + INS + "|" + insValue(50));
      Bundle resp = client.transaction().withBundle(tx).execute();
      String s1 = resp.getEntry().get(0).getResponse().getStatus();
      String s2 = resp.getEntry().get(1).getResponse().getStatus();
      check(s1.startsWith("200") && id[0].equals(new IdType(resp.getEntry().get(0).getResponse().getLocation()).getIdPart()), "entry 1 " + s1 + " " + resp.getEntry().get(0).getResponse().getLocation());
      check(s2.startsWith("201"), "entry 2 " + s2);
      return s1 + " / " + s2;
    });

    step("batch (200 + 404 entries)", () -> {
      Bundle batch = new Bundle();
      batch.setType(Bundle.BundleType.BATCH);
      batch.addEntry().getRequest().setMethod(Bundle.HTTPVerb.GET).setUrl("Patient/" + id[0]);
      batch.addEntry().getRequest().setMethod(Bundle.HTTPVerb.GET).setUrl("Patient/missing-" + run);
      Bundle resp = client.transaction().withBundle(batch).execute();
      check(resp.getType() == Bundle.BundleType.BATCHRESPONSE, "type " + resp.getType());
      String s1 = resp.getEntry().get(0).getResponse().getStatus();
      String s2 = resp.getEntry().get(1).getResponse().getStatus();
      check(s1.startsWith("200") && s2.startsWith("404"), s1 + " / " + s2);
      return null;
    });

    step("$validate (client.validate())", () -> {
      MethodOutcome o = client.validate().resource(patient("Valide-" + run, "Loïc", "2001-02-03", 40)).execute();
      check(o.getOperationOutcome() instanceof OperationOutcome, "no OperationOutcome");
      OperationOutcome oo = (OperationOutcome) o.getOperationOutcome();
      check(oo.getIssue().stream().noneMatch(i -> i.getSeverity() == OperationOutcome.IssueSeverity.ERROR || i.getSeverity() == OperationOutcome.IssueSeverity.FATAL),
          "errors on a valid Patient: " + describe(new UnprocessableEntityException("", oo)));
      StringBuilder seen = new StringBuilder();
      oo.getIssue().forEach(i -> seen.append(i.getSeverity().toCode()).append(": ").append(i.getDiagnostics()).append("; "));
      return seen.toString();
    });

    step("$validate invalid → outcome with error", () -> {
      Patient bad = patient("Invalide-" + run, "Loïc", "2001-02-03", 41);
      bad.addContact().setGender(AdministrativeGender.MALE); // pat-1
      Parameters in = new Parameters();
      in.addParameter().setName("resource").setResource(bad);
      try {
        OperationOutcome oo = client.operation().onType(Patient.class).named("$validate").withParameters(in)
            .returnResourceType(OperationOutcome.class).execute();
        check(oo.getIssue().stream().anyMatch(i -> i.getSeverity() == OperationOutcome.IssueSeverity.ERROR), "no error issue");
        return "200 with errors";
      } catch (UnprocessableEntityException | InvalidRequestException e) {
        check(e.getOperationOutcome() != null, "no OperationOutcome");
        return e.getStatusCode() + " with OperationOutcome";
      }
    });

    step("create with gzip request body (GZipContentInterceptor)", () -> {
      IGenericClient gzip = client.getFhirContext().newRestfulGenericClient(client.getServerBase());
      gzip.setEncoding(client.getEncoding());
      gzip.registerInterceptor(new ca.uhn.fhir.rest.client.apache.GZipContentInterceptor());
      MethodOutcome o = gzip.create().resource(patient("Compressé-" + run, "Gaëlle", "1966-06-06", 7)).execute();
      check(Boolean.TRUE.equals(o.getCreated()), "created " + o.getCreated());
      return null;
    });

    step("$expand (GET, url)", () -> {
      ValueSet vs = client.operation().onType(ValueSet.class).named("$expand")
          .withParameter(Parameters.class, "url", new UriType("http://hl7.org/fhir/ValueSet/administrative-gender"))
          .useHttpGet().returnResourceType(ValueSet.class).execute();
      check(vs.getExpansion().getContains().size() == 4, "contains " + vs.getExpansion().getContains().size());
      return null;
    });
  }

  public static void main(String[] args) {
    if (args.length < 1) {
      System.err.println("usage: HapiClientCheck BASE_URL");
      System.exit(2);
    }
    structureOnly = args.length > 1 && args[1].equals("off");
    FhirContext ctx = FhirContext.forR4();
    // HAPI's default (ONCE) is kept on purpose, as a plain user has it: the client fetches
    // /metadata before its first request and refuses a server whose fhirVersion is not R4.
    ctx.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.ONCE);
    int failed = 0;
    int passed = 0;
    for (EncodingEnum encoding : List.of(EncodingEnum.XML, EncodingEnum.JSON)) {
      HapiClientCheck check = new HapiClientCheck(ctx, args[0], encoding);
      check.runAll();
      failed += check.failed;
      passed += check.passed;
    }
    System.out.println("TOTAL " + passed + " passed, " + failed + " failed");
    System.exit(failed == 0 ? 0 : 1);
  }
}
