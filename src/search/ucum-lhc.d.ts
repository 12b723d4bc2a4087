/** Minimal typing of the parts of @lhncbc/ucum-lhc that src/search/ucum.ts uses (the package ships none). */
declare module '@lhncbc/ucum-lhc' {
  interface BaseUnitsResult {
    status: 'succeeded' | 'invalid' | 'failed' | 'error';
    magnitude?: number;
    unitToExp?: Record<string, number>;
    msg?: string[];
  }
  interface UcumLhcUtils {
    convertToBaseUnits(fromUnit: string, fromVal: number): BaseUnitsResult;
  }
  const ucum: { UcumLhcUtils: { getInstance(): UcumLhcUtils } };
  export default ucum;
}
