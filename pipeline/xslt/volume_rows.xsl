<?xml version="1.0" encoding="UTF-8"?>
<!--
  Flattens one Anthology volume file into tab-separated rows, one per line:
    V  volume-id  type  booktitle  year  venues  has-frontmatter
    P  volume-id  paper-id  title  abstract
    M  volume-id  paper-id  role  position  first  last  id  orcid  affiliation  vfirst  vlast  vscript
  (paper-id is empty for volume editors.) normalize-space() removes tabs and newlines from
  every text field, so the output is safe to read as TSV without quoting.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:variable name="T" select="'&#9;'"/>
  <xsl:variable name="N" select="'&#10;'"/>

  <xsl:template match="/">
    <xsl:for-each select="collection/volume">
      <xsl:variable name="vid" select="@id"/>
      <xsl:value-of select="concat('V', $T, $vid, $T, @type, $T, normalize-space(meta/booktitle), $T, normalize-space(meta/year), $T)"/>
      <xsl:for-each select="meta/venue">
        <xsl:if test="position() &gt; 1">|</xsl:if>
        <xsl:value-of select="normalize-space(.)"/>
      </xsl:for-each>
      <xsl:value-of select="concat($T, count(frontmatter), $N)"/>
      <xsl:for-each select="meta/editor">
        <xsl:call-template name="person">
          <xsl:with-param name="vid" select="$vid"/>
          <xsl:with-param name="pid" select="''"/>
          <xsl:with-param name="role" select="'editor'"/>
        </xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="paper">
        <xsl:variable name="pid" select="@id"/>
        <xsl:value-of select="concat('P', $T, $vid, $T, $pid, $T, normalize-space(title), $T, normalize-space(abstract), $N)"/>
        <xsl:for-each select="author">
          <xsl:call-template name="person">
            <xsl:with-param name="vid" select="$vid"/>
            <xsl:with-param name="pid" select="$pid"/>
            <xsl:with-param name="role" select="'author'"/>
          </xsl:call-template>
        </xsl:for-each>
        <xsl:for-each select="editor">
          <xsl:call-template name="person">
            <xsl:with-param name="vid" select="$vid"/>
            <xsl:with-param name="pid" select="$pid"/>
            <xsl:with-param name="role" select="'editor'"/>
          </xsl:call-template>
        </xsl:for-each>
      </xsl:for-each>
    </xsl:for-each>
  </xsl:template>

  <xsl:template name="person">
    <xsl:param name="vid"/>
    <xsl:param name="pid"/>
    <xsl:param name="role"/>
    <xsl:value-of select="concat('M', $T, $vid, $T, $pid, $T, $role, $T, position() - 1, $T,
      normalize-space(first), $T, normalize-space(last), $T, @id, $T, @orcid, $T,
      normalize-space(affiliation), $T, normalize-space(variant[1]/first), $T,
      normalize-space(variant[1]/last), $T, variant[1]/@script, $N)"/>
  </xsl:template>
</xsl:stylesheet>
