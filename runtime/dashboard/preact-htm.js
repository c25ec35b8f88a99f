/**
 * Preact and its hooks, with htm's tagged templates bound to Preact's `h`: what every module of
 * the page imports. The bare names resolve through the import map in index.html to the packages'
 * own ES module builds, served by the dev loop from node_modules.
 */
import { Component, h, render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);
export { Component, h, render, useCallback, useEffect, useMemo, useRef, useState };
